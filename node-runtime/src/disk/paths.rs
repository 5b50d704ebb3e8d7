//! Where a container's disk lives in its store directory, and the inode count used when the
//! spec gives none. The runtime glue that makes, sizes and mounts the disk as the container's
//! writable layer is `container/resources.rs`.

use std::path::PathBuf;

use crate::store::Layout;

pub use fleet_protocol::disk::{DEFAULT_BYTES_PER_INODE, default_inodes};

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
