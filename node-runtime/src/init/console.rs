//! The console keeper, `fleet-init --console MAX`: fleet-init's second mode, run on the host
//! (never in a container) for each running container. Its stdin is the read end of the pipe that
//! is the container's stdout and stderr; descriptor 3 is the container's store directory. It
//! appends what it reads to `console.log` there and, when that file would pass MAX/2 bytes,
//! renames it to `console.log.1` (replacing the older one) and starts a new one, so the two files
//! together never hold more than MAX bytes and the latest lines are always kept. It exits when
//! every writer is gone (the container stopped).
//!
//! Why a process and why this one: a plain file the container appends to has no bound (a
//! container filled the store's filesystem past its disk quota through its stdout), and only a
//! reader can drop the oldest lines rather than the newest; fleet-init is small (its private
//! memory is a few pages), while a fork of fleet-node would keep a copy of its heap. See
//! docs/security.md, "Console log".
//!
//! This file is compiled into fleet-init by build.rs and into fleet-node for its unit tests.

use std::io::{self, Read, Write};

/// Where the two files' rotation happens, behind a trait so the loop is tested on plain files.
pub trait Files {
    /// The current log's writer.
    type Out: Write;
    /// Opens (or makes) the current log for appending; returns it and its size.
    fn open(&mut self) -> io::Result<(Self::Out, u64)>;
    /// Renames the current log to the older one.
    fn rotate(&mut self) -> io::Result<()>;
}

/// How many bytes of `chunk` go into a file that holds `size` of at most `half` bytes: all that
/// fit, cut after the last whole line that fits; 0 when even the first line does not fit a file
/// that holds something (rotate first). A line longer than a whole file is cut at the bound.
pub fn cut(size: u64, half: u64, chunk: &[u8]) -> usize {
    let room = usize::try_from(half.saturating_sub(size)).unwrap_or(usize::MAX);
    if chunk.len() <= room {
        return chunk.len();
    }
    match chunk[..room].iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None if size > 0 => 0,
        None => room,
    }
}

/// Copies `input` into the log files until end of file, keeping both files within `max` bytes
/// together. A failed write (a full filesystem) drops those bytes and goes on reading: the
/// container must never block or get EPIPE because its log could not be written.
pub fn keep(input: &mut impl Read, files: &mut impl Files, max: u64) -> io::Result<()> {
    let half = (max / 2).max(1);
    let (mut out, mut size) = files.open()?;
    if size >= half {
        drop(out);
        files.rotate()?;
        (out, size) = files.open()?;
    }
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = cut(size, half, rest);
            if take == 0 {
                drop(out);
                let rotated = files.rotate().is_ok();
                (out, size) = files.open()?;
                if !rotated {
                    // The bound holds over the log: what does not fit is dropped.
                    break;
                }
                continue;
            }
            let _ = out.write_all(&rest[..take]);
            size += take as u64;
            rest = &rest[take..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Dir(PathBuf);

    impl Files for Dir {
        type Out = std::fs::File;
        fn open(&mut self) -> io::Result<(std::fs::File, u64)> {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.0.join("console.log"))?;
            let len = f.metadata()?.len();
            Ok((f, len))
        }
        fn rotate(&mut self) -> io::Result<()> {
            std::fs::rename(self.0.join("console.log"), self.0.join("console.log.1"))
        }
    }

    #[test]
    fn cuts_after_the_last_whole_line_that_fits() {
        assert_eq!(cut(0, 10, b"abc\n"), 4);
        assert_eq!(cut(6, 10, b"abc\ndefg\n"), 4);
        assert_eq!(cut(6, 10, b"abcdefg\n"), 0);
        assert_eq!(cut(0, 4, b"abcdefg\n"), 4);
        assert_eq!(cut(10, 10, b"a\n"), 0);
    }

    #[test]
    fn both_files_stay_within_the_bound_and_keep_the_latest_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("console.log"), vec![b'x'; 5000]).unwrap();
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let mut files = Dir(dir.path().to_owned());
        keep(&mut text.as_bytes(), &mut files, 4096).unwrap();
        let new = std::fs::read_to_string(dir.path().join("console.log")).unwrap();
        let old = std::fs::read_to_string(dir.path().join("console.log.1")).unwrap();
        assert!(
            new.len() + old.len() <= 4096,
            "{} + {}",
            new.len(),
            old.len()
        );
        assert!(new.ends_with("line 19999\n"), "{new}");
        assert!(
            new.starts_with("line ") && old.starts_with("line "),
            "{old}"
        );
        // The older file ends where the newer starts.
        let last_old: u32 = old.lines().last().unwrap()[5..].parse().unwrap();
        let first_new: u32 = new.lines().next().unwrap()[5..].parse().unwrap();
        assert_eq!(last_old + 1, first_new);
    }
}
