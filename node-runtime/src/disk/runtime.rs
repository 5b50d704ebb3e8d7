//! The container's disk as its writable layer: the image lives at `<container>/disk.img`, is
//! mounted at `<container>/disk`, and holds the overlay's `upper` and `work` directories, so
//! everything the container writes counts against its space and inodes. Containers whose spec
//! has no `disk_space` keep the store's plain directories.
//!
//! Called by the start verb before init is spawned; the image is sized to the spec there, which
//! is where shrinking and growing without CAP_SYS_RESOURCE happen (the container is stopped).

use std::fs;
use std::path::PathBuf;

use fleet_protocol::Resources;

use super::{INODES_MIN, Image};
use crate::container::Runtime;
use crate::error::{Result, io_err};
use crate::limits::runtime::disk_error;
use crate::store::Layout;

/// mke2fs's default bytes-per-inode, used when the spec gives a space but no inode count.
pub const DEFAULT_BYTES_PER_INODE: u64 = 16 << 10;

/// Where the container's image file lives.
pub fn image_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk.img")
}

/// Where the image is mounted on the host.
pub fn mount_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk")
}

/// Inodes for a disk of `space` bytes when the spec does not say.
pub fn default_inodes(space: u64) -> u64 {
    (space / DEFAULT_BYTES_PER_INODE).max(INODES_MIN)
}

impl Runtime {
    /// Makes (the first time), sizes and mounts the container's disk, returning the overlay's
    /// upper and work directories on it; the store's directories when the spec has no disk.
    /// Idempotent. The container must be stopped (its overlay holds the upper dir otherwise).
    pub fn writable_layer(&self, name: &str, resources: &Resources) -> Result<(PathBuf, PathBuf)> {
        let layout = self.store.layout(name);
        let Some(space) = resources.disk_space else {
            return Ok((layout.upper, layout.work));
        };
        let inodes = resources
            .disk_inodes
            .unwrap_or_else(|| default_inodes(space));
        let path = image_path(&layout);
        let target = mount_path(&layout);
        fs::create_dir_all(&target).map_err(io_err("create directory", &target))?;
        let image = if path.exists() {
            Image::open(&path)
        } else {
            Image::create(&path, space, inodes).map_err(|e| disk_error(name, e))?
        };
        image
            .resize_offline(space, Some(&target))
            .map_err(|e| disk_error(name, e))?;
        let upper = target.join("upper");
        let work = target.join("work");
        for dir in [&upper, &work] {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        Ok((upper, work))
    }
}
