//! Where a container's disk lives in its store directory, and the inode count used when the
//! spec gives none. The runtime glue that makes, sizes and mounts the disk as the container's
//! writable layer is `container/resources.rs`.

use std::path::PathBuf;

use super::INODES_MIN;
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

/// Where the inode count the image was made with is recorded (ext4 cannot tell it apart from
/// mke2fs's rounding and from what online growth added).
pub fn inodes_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk.inodes")
}

/// Inodes for a disk of `space` bytes when the spec does not say.
pub fn default_inodes(space: u64) -> u64 {
    (space / DEFAULT_BYTES_PER_INODE).max(INODES_MIN)
}
