//! Reading and writing cgroup control files, with errors that name the file and the value.
//!
//! Used by every controller file of [`crate::limits`] and by [`crate::counters`]. Writes never
//! create a file: a control file that the kernel does not offer is an error, not a new file, so
//! the unit tests against a temp dir catch a wrong file name just as the kernel would.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::Path;

use super::LimitError;

/// A value at or above this is the kernel's "no limit" for byte counters on cgroup v1
/// (`PAGE_COUNTER_MAX * PAGE_SIZE` reads as 9223372036854771712).
pub const V1_UNLIMITED_FROM: u64 = 1 << 62;

/// Writes `value` to the control file at `path` in one `write(2)`.
pub fn write(path: &Path, value: &str) -> Result<(), LimitError> {
    let wrap = |source: io::Error| LimitError::Write {
        value: value.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(wrap)?;
    file.write_all(value.as_bytes()).map_err(wrap)
}

/// Reads a control file as trimmed text.
pub fn read(path: &Path) -> Result<String, LimitError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| LimitError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn parse_error(path: &Path, content: &str, expected: &str) -> LimitError {
    LimitError::Parse {
        path: path.to_path_buf(),
        content: content.to_string(),
        expected: expected.to_string(),
    }
}

/// Reads a file holding one unsigned number.
pub fn read_u64(path: &Path) -> Result<u64, LimitError> {
    let text = read(path)?;
    text.parse()
        .map_err(|_| parse_error(path, &text, "an unsigned number"))
}

/// Reads a file holding one signed number (`cpu.cfs_quota_us` reads -1 for "no quota").
pub fn read_i64(path: &Path) -> Result<i64, LimitError> {
    let text = read(path)?;
    text.parse()
        .map_err(|_| parse_error(path, &text, "a number"))
}

/// Reads a v2-style limit file: `max` is `None`, a number is `Some`.
pub fn read_max(path: &Path) -> Result<Option<u64>, LimitError> {
    let text = read(path)?;
    if text == "max" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| parse_error(path, &text, "a number or `max`"))
}

/// Reads a v1 byte limit, mapping the kernel's huge "unlimited" value to `None`.
pub fn read_v1_bytes_limit(path: &Path) -> Result<Option<u64>, LimitError> {
    let value = read_u64(path)?;
    Ok((value < V1_UNLIMITED_FROM).then_some(value))
}

/// Finds `key`'s value in a flat-keyed file (`key value` per line, as `memory.events`,
/// `pids.events` and `cpu.stat`). A missing key is `None`.
pub fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>, LimitError> {
    let text = read(path)?;
    Ok(keyed_value(&text, key))
}

/// Parses `key value` lines, returning the value of `key`.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        (parts.next() == Some(key))
            .then(|| parts.next()?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values_are_found_by_exact_key() {
        let text = "nr_periods 10\nnr_throttled 3\nthrottled_time 900\n";
        assert_eq!(keyed_value(text, "nr_throttled"), Some(3));
        assert_eq!(keyed_value(text, "nr_periods"), Some(10));
        assert_eq!(keyed_value(text, "throttled"), None);
    }

    #[test]
    fn write_refuses_to_create_missing_control_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(&dir.path().join("memory.max"), "1").unwrap_err();
        assert!(err.to_string().contains("memory.max"), "{err}");
    }
}
