//! The allocated runs of a sparse file, found with `lseek(SEEK_DATA)` and `lseek(SEEK_HOLE)`,
//! widened to whole checksum blocks so that every chunk starts on a block boundary.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use fleet_protocol::transfer::DIGEST_BLOCK;
use nix::errno::Errno;
use nix::unistd::{Whence, lseek};

/// The next run holding data at or after `pos` (a multiple of the block size) in a file of
/// `size` bytes, as `(start, end)` with `start` on a block boundary; `None` past the last one.
pub fn next_run(file: &File, pos: u64, size: u64) -> io::Result<Option<(u64, u64)>> {
    if pos >= size {
        return Ok(None);
    }
    let at = |offset: u64| {
        i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    };
    let data = match lseek(file.as_fd(), at(pos)?, Whence::SeekData) {
        Ok(d) => d as u64,
        // No data at or after pos.
        Err(Errno::ENXIO) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if data >= size {
        return Ok(None);
    }
    let start = (data - data % DIGEST_BLOCK).max(pos);
    let hole = match lseek(file.as_fd(), at(data)?, Whence::SeekHole) {
        Ok(h) => h as u64,
        Err(Errno::ENXIO) => size,
        Err(e) => return Err(e.into()),
    };
    let end = hole
        .div_ceil(DIGEST_BLOCK)
        .saturating_mul(DIGEST_BLOCK)
        .min(size);
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileExt;

    use super::*;

    #[test]
    fn runs_skip_holes_and_cover_every_written_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let file = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let size = 64 << 20;
        file.set_len(size).unwrap();
        file.write_all_at(b"first", 10).unwrap();
        file.write_all_at(b"second", 40 << 20).unwrap();
        file.write_all_at(b"last", size - 4).unwrap();
        let mut runs = Vec::new();
        let mut pos = 0;
        while let Some((start, end)) = next_run(&file, pos, size).unwrap() {
            assert_eq!(start % DIGEST_BLOCK, 0);
            assert!(start >= pos && end > start);
            runs.push((start, end));
            pos = end;
        }
        let covered = |off: u64| runs.iter().any(|&(s, e)| s <= off && off < e);
        assert!(
            covered(10) && covered(40 << 20) && covered(size - 1),
            "{runs:?}"
        );
        let total: u64 = runs.iter().map(|(s, e)| e - s).sum();
        assert!(
            total < 1 << 20,
            "holes are skipped: {total} bytes in {runs:?}"
        );
    }
}
