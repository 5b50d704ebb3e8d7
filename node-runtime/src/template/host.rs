//! The host template: the host's own programs and libraries, bound read-only at start, with a
//! private copy of /etc without the host's secrets (`host_etc.rs`) and empty /var and /tmp in the
//! cached tree.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::error::{Result, io_err};

/// Top-level host directories the container shares read-only.
const SHARED: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The shared directories that are real directories on this host (merged-/usr symlinks such as
/// /bin -> usr/bin are copied as symlinks instead and need no bind).
pub fn bound_dirs() -> Vec<PathBuf> {
    SHARED
        .iter()
        .map(|d| Path::new("/").join(d))
        .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
        .collect()
}

/// Builds the tree: mount points (or symlinks) for the shared directories and a copy of /etc.
pub fn build(dir: &Path) -> Result<()> {
    for d in SHARED {
        let host = Path::new("/").join(d);
        let Ok(meta) = fs::symlink_metadata(&host) else {
            continue;
        };
        let path = dir.join(d);
        if meta.file_type().is_symlink() {
            let to = fs::read_link(&host).map_err(io_err("read symlink", &host))?;
            symlink(&to, &path).map_err(io_err("create symlink", &path))?;
        } else if meta.is_dir() {
            fs::create_dir_all(&path).map_err(io_err("create directory", &path))?;
        }
    }
    super::run("cp", &["-a".as_ref(), "/etc".as_ref(), dir.as_os_str()])?;
    super::host_etc::scrub(dir)?;
    for d in ["var/log", "var/tmp", "var/lib", "tmp", "home"] {
        let path = dir.join(d);
        fs::create_dir_all(&path).map_err(io_err("create directory", &path))?;
    }
    Ok(())
}
