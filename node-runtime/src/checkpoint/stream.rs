//! A checkpoint directory as one byte stream, for a move that carries it through the
//! orchestrator's SSH sessions: [`pack`] writes every regular file of the (flat) image
//! directory, [`unpack`] makes them again in a new 0700 directory on the target. The format is
//! ours and minimal (magic, then per file: name length, name, size, bytes; a zero length ends
//! it): a checkpoint directory holds only regular files with plain names, so the receiving node
//! accepts nothing else: no path with a slash, no `.` or `..`, no link, device or directory, no
//! name twice (each file is created with O_EXCL), a size cap per stream. tar would carry all of
//! those, and each is a way for a hostile sender to write outside the directory.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The stream's first bytes.
pub const MAGIC: &[u8; 11] = b"FLEETCKPT1\n";
/// Largest name accepted.
const NAME_MAX: usize = 255;

/// What [`pack`] and [`unpack`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Files.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// Writes the regular files of `dir` (not its subdirectories, links or others) to `out`.
pub fn pack(dir: &Path, out: &mut impl Write) -> io::Result<Moved> {
    out.write_all(MAGIC)?;
    let mut moved = Moved::default();
    let mut names: Vec<_> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let bytes = name.as_bytes();
        if bytes.len() > NAME_MAX {
            return Err(bad(format!(
                "file name too long: {}",
                name.to_string_lossy()
            )));
        }
        // Not through a link, and a FIFO put there since the listing never blocks the open.
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(dir.join(&name))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(bad(format!(
                "{} is no longer a regular file",
                name.to_string_lossy()
            )));
        }
        let size = meta.len();
        out.write_all(&(bytes.len() as u16).to_be_bytes())?;
        out.write_all(bytes)?;
        out.write_all(&size.to_be_bytes())?;
        let copied = io::copy(&mut (&mut file).take(size), out)?;
        if copied != size {
            return Err(bad(format!(
                "{} shrank while it was sent",
                name.to_string_lossy()
            )));
        }
        moved.files += 1;
        moved.bytes += size;
    }
    out.write_all(&0u16.to_be_bytes())?;
    out.flush()?;
    Ok(moved)
}

/// Reads a stream [`pack`] wrote into `dir`, which must not exist (it is made 0700), taking at
/// most `limit` bytes of content. On any error `dir` is removed again.
pub fn unpack(input: &mut impl Read, dir: &Path, limit: u64) -> io::Result<Moved> {
    fs::create_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let result = unpack_into(input, dir, limit);
    if result.is_err() {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

fn unpack_into(input: &mut impl Read, dir: &Path, limit: u64) -> io::Result<Moved> {
    let mut magic = [0u8; MAGIC.len()];
    input.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad("not a fleet checkpoint stream (bad magic)".into()));
    }
    let mut moved = Moved::default();
    loop {
        let mut len = [0u8; 2];
        input.read_exact(&mut len)?;
        let len = u16::from_be_bytes(len) as usize;
        if len == 0 {
            return Ok(moved);
        }
        if len > NAME_MAX {
            return Err(bad(format!("name of {len} bytes")));
        }
        let mut name = vec![0u8; len];
        input.read_exact(&mut name)?;
        if name.contains(&b'/') || name.contains(&0) || name == b"." || name == b".." {
            return Err(bad(format!(
                "refused file name {:?}: only plain names",
                String::from_utf8_lossy(&name)
            )));
        }
        let mut size = [0u8; 8];
        input.read_exact(&mut size)?;
        let size = u64::from_be_bytes(size);
        if moved.bytes.saturating_add(size) > limit {
            return Err(bad(format!(
                "the stream exceeds its limit of {limit} bytes"
            )));
        }
        // The name has no slash, so the file lands in `dir` itself; O_EXCL and O_NOFOLLOW
        // refuse a name seen twice and anything already there.
        let path = dir.join(std::ffi::OsStr::from_bytes(&name));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            // As CRIU writes them: the directory (0700) keeps host users out, and a restore
            // opens it to the container's root, which must read them.
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        let copied = io::copy(&mut input.take(size), &mut file)?;
        if copied != size {
            return Err(bad("the stream ended inside a file".into()));
        }
        moved.files += 1;
        moved.bytes += size;
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_goes_through_and_comes_back_the_same() {
        let from = tempfile::tempdir().unwrap();
        fs::write(from.path().join("core-1.img"), b"abc").unwrap();
        fs::write(from.path().join("pages-1.img"), vec![7u8; 100_000]).unwrap();
        fs::create_dir(from.path().join("sub")).unwrap();
        let mut wire = Vec::new();
        let sent = pack(from.path(), &mut wire).unwrap();
        assert_eq!(
            sent,
            Moved {
                files: 2,
                bytes: 100_003
            }
        );
        let to = tempfile::tempdir().unwrap();
        let dir = to.path().join("in");
        assert_eq!(unpack(&mut wire.as_slice(), &dir, 1 << 20).unwrap(), sent);
        assert_eq!(fs::read(dir.join("core-1.img")).unwrap(), b"abc");
        assert_eq!(fs::read(dir.join("pages-1.img")).unwrap().len(), 100_000);
        assert!(!dir.join("sub").exists());
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    fn stream(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in entries {
            out.extend((name.len() as u16).to_be_bytes());
            out.extend(*name);
            out.extend((data.len() as u64).to_be_bytes());
            out.extend(*data);
        }
        out.extend(0u16.to_be_bytes());
        out
    }

    #[test]
    fn hostile_streams_write_nothing_outside_and_leave_nothing() {
        let to = tempfile::tempdir().unwrap();
        let cases: [&[(&[u8], &[u8])]; 5] = [
            &[(b"../escape", b"x")],
            &[(b"a/b", b"x")],
            &[(b"..", b"x")],
            &[(b"same", b"x"), (b"same", b"y")],
            &[(b"big", &[0u8; 64])],
        ];
        for case in cases {
            let dir = to.path().join("in");
            let wire = stream(case);
            let err = unpack(&mut wire.as_slice(), &dir, 32).unwrap_err();
            assert!(!dir.exists(), "{err}: the directory is removed again");
        }
        assert!(!to.path().join("escape").exists());
        let mut wrong = b"NOTFLEET...".to_vec();
        wrong.extend(0u16.to_be_bytes());
        assert!(unpack(&mut wrong.as_slice(), &to.path().join("w"), 32).is_err());
        let mut cut = stream(&[(b"core", b"abcdef")]);
        cut.truncate(cut.len() - 5);
        assert!(unpack(&mut cut.as_slice(), &to.path().join("c"), 32).is_err());
    }
}
