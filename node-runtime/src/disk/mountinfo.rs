//! Reading this mount namespace's mount table (`/proc/self/mountinfo`) alone, without a helper
//! process: where a device is mounted, what is mounted at a path.

use std::path::{Path, PathBuf};

/// `path` with links resolved, or as given when it cannot be (a missing mount point).
pub fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The device mounted at `target` in this mount namespace, read from the mount table alone
/// (no helper process), for the status paths that run once per container.
pub fn mounted_source(target: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let target = canonical(target);
    text.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split_whitespace().nth(4)?;
        let source = right.split_whitespace().nth(1)?;
        (Path::new(&unescape(point)) == target).then(|| PathBuf::from(source))
    })
}

/// Where `device` is mounted in this mount namespace (the first mount found).
pub fn mount_point_of(device: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let device = device.to_str()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let source = right.split_whitespace().nth(1)?;
        let target = left.split_whitespace().nth(4)?;
        (source == device).then(|| PathBuf::from(unescape(target)))
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Some(code) = std::str::from_utf8(&bytes[i + 1..i + 4])
                .ok()
                .and_then(|digits| u8::from_str_radix(digits, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/tmp/a\\040b"), "/tmp/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
