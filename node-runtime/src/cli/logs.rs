//! `fleet-node logs NAME [--tail N] [-f] [--timestamps]`: init's console log (its stdout and
//! stderr, as fleet-node appends them to `<root>/containers/NAME/console.log`), the last N lines
//! of it, and with `-f` what is appended after, until the caller goes away; `--timestamps` puts
//! a time before each line (`logs_stamp`: when it was read, or for what was already there a
//! bound). `fleet logs` runs this on the container's host (over SSH, or as a child for a local
//! host).
//!
//! A log the console keeper rotated (`container/console.rs`) is read from its older file
//! (`console.log.1`) first, as far as the lines asked for reach into it.
//!
//! Following polls the file (a console log grows in bursts; a quarter second is soon enough)
//! and ends when nobody reads any more: stdout's reader closed it (the SSH channel or the local
//! `fleet` went away; poll reports it before anything is written), or this process's parent
//! changed (the session that ran it ended), so no follower outlives the user's `fleet logs -f`. A log that is replaced
//! (the container destroyed and made again) is followed from its start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use clap::Args;

use super::logs_stamp::{Stamped, utc_millis};
use crate::container::Runtime;
use crate::error::{Result, io_err};

/// How often `-f` looks for more.
const POLL: Duration = Duration::from_millis(250);

/// Bytes read at a time from the end when looking for the last lines.
const CHUNK: u64 = 64 << 10;

/// Flags of `fleet-node logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Container name.
    pub name: String,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Keep printing what the container writes, until interrupted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Put a UTC time before each line: when `-f` read it (within 0.25 s of its writing), or,
    /// for lines already in the log, `<=` the log's last write (the log keeps no time per line).
    #[arg(short = 't', long)]
    pub timestamps: bool,
}

fn open(path: &Path) -> std::io::Result<File> {
    // The store is fleet-node's own (0700); no link is followed all the same.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Where the last `lines` lines of `file` start.
fn tail_start(file: &mut File, lines: u64) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if lines == 0 {
        return Ok(len);
    }
    let mut end = len;
    // A final newline ends the last line; it does not start another.
    let mut wanted = lines + 1;
    let mut last_byte = [0u8; 1];
    if len > 0 {
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last_byte)?;
        if last_byte[0] != b'\n' {
            wanted -= 1;
        }
    }
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        for i in (0..n).rev() {
            if buf[i] == b'\n' {
                wanted -= 1;
                if wanted == 0 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// How many lines `file` holds (a last line without its newline counts).
fn count_lines(file: &mut File) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; CHUNK as usize];
    let (mut lines, mut last) = (0, b'\n');
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lines + u64::from(last != b'\n'));
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
}

/// Copies `file` from `from` to its end onto `out`; returns where it stopped.
fn copy_from(file: &mut File, from: u64, out: &mut impl Write) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(from))?;
    let copied = std::io::copy(file, out)?;
    out.flush()?;
    Ok(from + copied)
}

/// Whether stdout's reader has gone (a pipe or socket closed at the other end).
/// Stamps the lines that were in `file` before the read with "no later than its last write"
/// (now, where the file cannot say).
fn stamp_written(out: &mut Stamped<impl Write>, file: &File) {
    let written = file.metadata().and_then(|m| m.modified());
    out.stamp(format!(
        "<={}",
        utc_millis(written.unwrap_or_else(|_| SystemTime::now()))
    ));
}

fn reader_gone() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
        Err(_) => false,
    }
}

/// Runs `logs`: nothing when the container has written nothing yet.
pub fn logs(runtime: &Runtime, args: &LogsArgs, out: &mut impl Write) -> Result<()> {
    let path = runtime.log_path(&args.name)?;
    let mut out = Stamped::new(out);
    let out = &mut out;
    let parent = std::os::unix::process::parent_id();
    let mut file = match open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("open", &path)(e)),
    };
    let mut at = 0;
    if let Some(f) = file.as_mut() {
        // The older file of a rotated log first, as far as the lines asked for reach into it.
        let in_current = match args.tail {
            Some(n) => count_lines(f).map_err(io_err("read", &path))?.min(n),
            None => 0,
        };
        let wanted = args.tail.map(|n| n - in_current);
        if wanted != Some(0) {
            let older = path.with_file_name(crate::container::console::OLDER);
            if let Ok(mut o) = open(&older) {
                let start = match wanted {
                    Some(n) => tail_start(&mut o, n).map_err(io_err("read", &older))?,
                    None => 0,
                };
                if args.timestamps {
                    stamp_written(out, &o);
                }
                if copy_from(&mut o, start, out).is_err() {
                    return Ok(());
                }
            }
        }
        let start = match args.tail {
            Some(n) => tail_start(f, n).map_err(io_err("read", &path))?,
            None => 0,
        };
        if args.timestamps {
            stamp_written(out, f);
        }
        // A reader that went away (a closed pipe) ends the command quietly.
        match copy_from(f, start, out) {
            Ok(end) => at = end,
            Err(_) => return Ok(()),
        }
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(POLL);
        if std::os::unix::process::parent_id() != parent || reader_gone() {
            return Ok(());
        }
        let now = std::fs::symlink_metadata(&path).ok();
        let same = match (&file, &now) {
            (Some(f), Some(m)) => f.metadata().is_ok_and(|fm| fm.ino() == m.ino()),
            _ => false,
        };
        if !same {
            // Rotated (or removed): what was written to the old file before that first.
            if let Some(f) = file.as_mut()
                && copy_from(f, at, out).is_err()
            {
                return Ok(());
            }
            if now.is_none() {
                file = None;
                continue;
            }
            // Made again (or made at last): follow the new file from its start.
            file = open(&path).ok();
            at = 0;
        }
        let Some(f) = file.as_mut() else { continue };
        let len = f.metadata().map(|m| m.len()).unwrap_or(at);
        if len < at {
            at = 0;
        }
        if len > at {
            if args.timestamps {
                out.stamp(utc_millis(SystemTime::now()));
            }
            match copy_from(f, at, out) {
                Ok(end) => at = end,
                Err(_) => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(text: &str, n: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, text).unwrap();
        let mut f = File::open(&p).unwrap();
        let start = tail_start(&mut f, n).unwrap();
        text[start as usize..].to_string()
    }

    #[test]
    fn the_last_lines_with_or_without_a_final_newline() {
        assert_eq!(last("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(last("a\nb\nc", 2), "b\nc");
        assert_eq!(last("a\nb\nc\n", 5), "a\nb\nc\n");
        assert_eq!(last("a\nb\nc\n", 0), "");
        assert_eq!(last("", 3), "");
        let long: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(last(&long, 2), "line 49998\nline 49999\n");
    }
}
