//! Test helper: a disk image in its own temp dir, mounted, and always unmounted and detached in
//! `Drop` even when the test fails.

use std::path::{Path, PathBuf};

use super::Image;
use crate::limits::test_support::prerequisite;

/// A mounted test image.
pub struct TestDisk {
    /// The image.
    pub image: Image,
    /// Where it is mounted.
    pub mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestDisk {
    /// Makes and mounts an image of `space` bytes with `inodes` inodes, or `None` (see
    /// [`prerequisite`]) when loop devices or mkfs.ext4 are missing.
    pub fn new(space: u64, inodes: u64) -> Option<TestDisk> {
        let ok = nix::unistd::geteuid().is_root()
            && Path::new("/dev/loop-control").exists()
            && ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"]
                .iter()
                .any(|p| Path::new(p).exists());
        if !prerequisite(
            ok,
            "needs root, /dev/loop-control and mkfs.ext4 (e2fsprogs)",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).expect("mkdir mnt");
        let image =
            Image::create(&dir.path().join("disk.img"), space, inodes, false).expect("create");
        let disk = TestDisk {
            image,
            mount,
            _dir: dir,
        };
        disk.image.mount(&disk.mount).expect("mount");
        Some(disk)
    }
}

impl Drop for TestDisk {
    fn drop(&mut self) {
        if let Err(e) = self.image.detach() {
            eprintln!("test disk cleanup: {e}");
        }
    }
}
