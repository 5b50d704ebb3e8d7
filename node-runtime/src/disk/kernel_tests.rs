//! Real-kernel tests of disk images: a real loop device, real ext4, real ENOSPC.

use std::process::Command;

use super::test_support::TestDisk;
use super::*;

fn dd(target: &std::path::Path, mib: u64) -> std::process::Output {
    let mut of = std::ffi::OsString::from("of=");
    of.push(target);
    Command::new("dd")
        .arg("if=/dev/zero")
        .arg(of)
        .args(["bs=1M", &format!("count={mib}"), "conv=fsync"])
        .output()
        .expect("run dd")
}

/// Asserts that `err` is the refusal that asks for a restart to change `field`.
#[track_caller]
fn assert_needs_restart(err: &DiskError, field: &str) {
    assert!(
        matches!(err, DiskError::NeedsRestart { field: f, .. } if *f == field),
        "{err}"
    );
}

#[test]
fn dd_past_the_space_fails_and_growing_online_lets_it_succeed() {
    let Some(disk) = TestDisk::new(16 << 20, 256) else {
        return;
    };
    let big = disk.mount.join("big");
    let out = dd(&big, 24);
    assert!(
        !out.status.success(),
        "dd of 24Mi into a 16Mi disk succeeded"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    std::fs::remove_file(&big).unwrap();

    let dev_before = disk.image.device().unwrap();
    if online_grow_supported() {
        assert!(disk.image.grow_online(48 << 20).unwrap());
        assert_eq!(disk.image.device().unwrap(), dev_before, "same loop device");
    } else {
        // ext4 refuses online resizing without CAP_SYS_RESOURCE: say so, change nothing, and
        // grow through the stopped path instead.
        eprintln!("no CAP_SYS_RESOURCE here: checking the refusal and the offline path");
        let err = disk.image.grow_online(48 << 20).unwrap_err();
        assert_needs_restart(&err, "disk.space");
        assert!(err.to_string().contains("CAP_SYS_RESOURCE"), "{err}");
        assert_eq!(
            disk.image.space().unwrap(),
            16 << 20,
            "refusal changed the image"
        );
        assert!(
            disk.image
                .grow_offline(48 << 20, Some(&disk.mount))
                .unwrap()
        );
    }
    assert!(
        !disk.image.grow_online(48 << 20).unwrap(),
        "same size is a no-op"
    );
    let out = dd(&big, 24);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usage = disk.image.usage().unwrap();
    assert!(
        usage.space_total > 40 << 20 && usage.space_used >= 24 << 20,
        "{usage:?}"
    );
    assert_eq!(disk.image.space().unwrap(), 48 << 20);
}

#[test]
fn creating_files_past_the_inode_count_fails_with_enospc() {
    let Some(disk) = TestDisk::new(16 << 20, 64) else {
        return;
    };
    let total = disk.image.usage().unwrap().inodes_total;
    assert!((64..128).contains(&total), "inode count {total}");
    let mut made = 0;
    let err = loop {
        match std::fs::File::create(disk.mount.join(format!("f{made}"))) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
        assert!(made < 1000, "never ran out of inodes");
    };
    assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC), "{err}");
    assert!(err.to_string().contains("No space left on device"));
    let usage = disk.image.usage().unwrap();
    assert_eq!(usage.inodes_used, usage.inodes_total);
    // And touch, as a user inside the container would, fails the same way.
    let out = Command::new("touch")
        .arg(disk.mount.join("one-more"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("No space left on device"));
}

#[test]
fn shrinking_or_new_inodes_need_restart_and_too_small_is_invalid() {
    let Some(disk) = TestDisk::new(32 << 20, 256) else {
        return;
    };
    let err = disk.image.grow_online(16 << 20).unwrap_err();
    assert_needs_restart(&err, "disk.space");
    assert!(err.to_string().contains("needs restart"), "{err}");
    let err = disk.image.check_change(256, 32 << 20, 512).unwrap_err();
    assert_needs_restart(&err, "disk.inodes");
    disk.image.check_change(256, 64 << 20, 256).unwrap();
    std::fs::write(disk.mount.join("data"), vec![1u8; 20 << 20]).unwrap();
    let err = disk.image.check_change(256, 16 << 20, 256).unwrap_err();
    assert!(
        matches!(
            err,
            DiskError::Invalid {
                field: "disk.space",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(disk.image.space().unwrap(), 32 << 20, "nothing changed");
}

#[test]
fn mount_is_idempotent_and_detach_releases_the_loop_device() {
    let Some(disk) = TestDisk::new(16 << 20, 128) else {
        return;
    };
    let dev = disk.image.device().unwrap().expect("attached");
    assert_eq!(disk.image.mount(&disk.mount).unwrap(), dev);
    let counters = crate::counters::read(
        "disk",
        &crate::limits::Dirs::new(crate::limits::CgroupVersion::V1, Vec::new()),
        Some(&disk.mount),
    )
    .unwrap();
    let space = counters.get("diskspace").unwrap();
    assert!(
        space.limit.unwrap() > 8 << 20 && space.held > 0,
        "{space:?}"
    );
    assert!(counters.get("diskinodes").unwrap().held >= 11);
    // A plain unmount (what a container teardown does) frees the loop device as well.
    let out = Command::new("umount").arg(&disk.mount).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let freed = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        disk.image.device().unwrap().is_none()
    });
    assert!(freed, "loop device still attached after umount");
    disk.image.detach().unwrap();
    disk.image.mount(&disk.mount).unwrap();
    disk.image.detach().unwrap();
    assert_eq!(disk.image.device().unwrap(), None);
}

#[test]
fn a_stopped_disk_can_shrink_when_its_data_fits() {
    let Some(disk) = TestDisk::new(64 << 20, 256) else {
        return;
    };
    std::fs::write(disk.mount.join("keep"), vec![7u8; 4 << 20]).unwrap();
    assert!(
        disk.image
            .resize_offline(32 << 20, Some(&disk.mount))
            .unwrap()
    );
    assert_eq!(disk.image.space().unwrap(), 32 << 20);
    assert_eq!(
        std::fs::read(disk.mount.join("keep")).unwrap(),
        vec![7u8; 4 << 20]
    );
    let total = disk.image.usage().unwrap().space_total;
    assert!(total < 32 << 20 && total > 24 << 20, "{total}");
}

#[test]
fn a_quota_image_carries_the_feature_and_tune2fs_switches_it() {
    // mkfs and tune2fs only: no mount, so this runs on a kernel without QFMT_V2 too.
    let dir = tempfile::tempdir().unwrap();
    let plain = Image::create(&dir.path().join("plain.img"), 32 << 20, 1024, false).unwrap();
    assert!(!plain.has_quota().unwrap());
    assert_eq!(plain.mount_options().unwrap(), "nosuid,nodev,noexec");
    let quota = Image::create(&dir.path().join("quota.img"), 32 << 20, 1024, true).unwrap();
    assert!(quota.has_quota().unwrap());
    assert_eq!(
        quota.mount_options().unwrap(),
        "nosuid,nodev,noexec,usrquota,grpquota"
    );
    // dumpe2fs, the tools' own view, agrees with the superblock read.
    let out = Command::new("dumpe2fs")
        .arg("-h")
        .arg(quota.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let features = text
        .lines()
        .find(|l| l.starts_with("Filesystem features:"))
        .unwrap();
    assert!(
        features.split_whitespace().any(|f| f == "quota"),
        "{features}"
    );
    assert!(!quota.set_quota(true).unwrap(), "already on: nothing to do");
    assert!(quota.set_quota(false).unwrap());
    assert!(!quota.has_quota().unwrap());
    assert!(plain.set_quota(true).unwrap());
    assert!(plain.has_quota().unwrap());
    // Not an ext4 at all: an error, not a guess.
    std::fs::write(dir.path().join("junk.img"), vec![0u8; 4096]).unwrap();
    assert!(
        Image::open(&dir.path().join("junk.img"))
            .has_quota()
            .is_err()
    );
}
