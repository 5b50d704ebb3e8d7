//! Keeping the store out of host users' reach: every directory fleet-node makes under `<root>` is
//! 0700 (root only), disk images and console logs 0600, and an existing store is tightened at the
//! next run. Host users then cannot traverse to a container's files at all: not its upper layer
//! (where container root may leave a setuid-root file or a 1777 directory), not a template, not
//! a disk image.
//!
//! A child that has already entered a container's user namespace is no longer host root either,
//! so it reaches the store's directories through descriptors opened before the fork
//! ([`Pinned`]): `/proc/self/fd/N` jumps to the directory without searching the 0700 ones above
//! it.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Result, io_err};

/// Mode of every directory under the root, and of the root.
pub const DIR_MODE: u32 = 0o700;

/// Mode of disk images and console logs.
pub const FILE_MODE: u32 = 0o600;

/// Makes `path` (its parents as usual, itself 0700) or tightens it to 0700 when it exists.
pub fn private_dir(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("create directory", path)(e)),
    }
    tighten(path, DIR_MODE)
}

/// Sets `path`'s permission bits to `mode` unless they are already (nothing when it is missing).
/// `mode` may keep group bits, as a container's directory does for its user namespace's group.
pub fn tighten(path: &Path, mode: u32) -> Result<()> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("stat", path)(e)),
    };
    if meta.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_err("chmod", path))?;
    }
    Ok(())
}

/// The root (made if missing) and every directory directly under it, 0700. Cheap enough for
/// every run: a stat per entry of the root, a chmod only where a mode differs.
pub fn secure_root(root: &Path) -> Result<()> {
    private_dir(root)?;
    for entry in fs::read_dir(root).map_err(io_err("read directory", root))? {
        let entry = entry.map_err(io_err("read directory", root))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            tighten(&entry.path(), DIR_MODE)?;
        }
    }
    Ok(())
}

/// A store directory held open (`O_PATH`) so that a child without host root's rights reaches it
/// and what lies below it. Valid in the children of this process until they exec (the
/// descriptor is close-on-exec).
#[derive(Debug)]
pub struct Pinned {
    fd: OwnedFd,
    path: PathBuf,
}

impl Pinned {
    /// Opens `path` (a directory, or a file to bind).
    pub fn open(path: &Path) -> Result<Pinned> {
        let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| io_err("open", path)(e.into()))?;
        Ok(Pinned {
            fd,
            path: path.to_owned(),
        })
    }

    /// How this process and its children name `host_path` (the pinned directory or a path
    /// below it) through the descriptor: `/proc/self/fd/N/<rest>`.
    pub fn via(&self, host_path: &Path) -> PathBuf {
        let fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        match host_path.strip_prefix(&self.path) {
            Ok(rest) if rest.as_os_str().is_empty() => fd,
            Ok(rest) => fd.join(rest),
            Err(_) => host_path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_made_and_tightened_to_0700() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/root");
        secure_root(&root).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(
            mode(&dir.path().join("a")) & 0o700,
            0o700,
            "parents as usual"
        );
        let sub = root.join("containers");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        secure_root(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&sub), 0o700);
    }

    #[test]
    fn a_pinned_directory_is_reached_through_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("c/upper")).unwrap();
        fs::write(dir.path().join("c/upper/f"), "x").unwrap();
        let pinned = Pinned::open(&dir.path().join("c")).unwrap();
        let via = pinned.via(&dir.path().join("c/upper/f"));
        assert!(via.starts_with("/proc/self/fd/"), "{via:?}");
        assert_eq!(fs::read_to_string(via).unwrap(), "x");
        assert_eq!(
            pinned.via(&dir.path().join("c")).parent().unwrap(),
            Path::new("/proc/self/fd")
        );
    }
}
