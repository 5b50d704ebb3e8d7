//! Per-container disks: an ext4 file system in a sparse image file on a loop device, like
//! OpenVZ's ploop. Its size is the container's disk space limit and its inode count (fixed at
//! mkfs time) the inode limit; writing past either fails inside the container with ENOSPC.
//!
//! [`Image`] keeps no state of its own beyond the image path: whether it is attached and where it
//! is mounted are read back from the kernel (`losetup -j`, `/proc/self/mountinfo`) each time, so a
//! `fleet-node` started later finds a running container's disk as it left it. Growing is online
//! (bigger file, `losetup -c`, `resize2fs` on the mounted file system) where the process holds
//! CAP_SYS_RESOURCE, which ext4 demands for it; elsewhere, and for shrinking or a new inode count,
//! the answer is [`DiskError::NeedsRestart`] and [`Image::grow_offline`] does it while stopped.
//! The external programs (util-linux `losetup`, `mount`, `umount`; e2fsprogs `mkfs.ext4`,
//! `resize2fs`, `tune2fs`) run with argv lists, never through a shell. [`quota`] is the quota
//! feature of `disk.user_quota` (kept in the superblock, mounted with `usrquota,grpquota`). Neighbours: [`crate::limits`] caps
//! I/O on this image's loop device; [`crate::counters`] reads its usage.

pub(crate) mod command;
mod image;
mod mountinfo;
pub mod paths;
pub mod quota;

use std::io;
use std::path::PathBuf;

pub use image::{
    DiskUsage, INODES_MIN, Image, SPACE_MIN, device_number, online_grow_supported, usage_at,
    validate,
};
pub use mountinfo::mounted_source;

/// Why a disk operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// A size or inode count out of range; nothing was changed.
    #[error("invalid {field} {value}: {expected}")]
    Invalid {
        /// Spec field (`disk.space`, `disk.inodes`).
        field: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// The change cannot be made while the container runs.
    #[error("{field} needs restart: {reason}")]
    NeedsRestart {
        /// Spec field.
        field: &'static str,
        /// Why it cannot change live.
        reason: String,
    },
    /// A file operation on the image failed.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// File involved.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// An external program failed.
    #[error("{program} {args} failed ({status}): {stderr}")]
    Command {
        /// Program name.
        program: String,
        /// Its arguments, space-joined for the message only.
        args: String,
        /// Exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The image is not mounted where the operation needs it.
    #[error("disk image {path} is not mounted")]
    NotMounted {
        /// Image file.
        path: PathBuf,
    },
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod kernel_tests;
