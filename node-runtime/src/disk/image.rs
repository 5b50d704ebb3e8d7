//! [`Image`]: create, mount, grow and detach one container's ext4 disk image.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fleet_protocol::units::format_size;

use super::DiskError;
use super::command::{run, run_accepting};
use super::mountinfo::{canonical, mount_point_of};
use super::quota;
use crate::limits::DevNum;

/// Smallest disk and fewest inodes: the rules are shared with `fleet validate`.
pub use fleet_protocol::disk::{INODES_MIN, SPACE_MIN};
/// Every image uses 4 KiB blocks, so that small and large images behave alike (mke2fs would pick
/// 1 KiB blocks below 512 MiB) and online growth can reach 1024 times the first size.
const BLOCK: u64 = 4096;

/// Space and inodes of a mounted image, as the file system counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DiskUsage {
    /// Bytes usable by files (the image size less ext4's metadata).
    pub space_total: u64,
    /// Bytes in use.
    pub space_used: u64,
    /// Inodes the file system has.
    pub inodes_total: u64,
    /// Inodes in use (including ext4's reserved ones).
    pub inodes_used: u64,
}

/// One container's disk image file. Holds only the path; attachment and mounts are read back
/// from the kernel every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    path: PathBuf,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DiskError {
    let path = path.to_path_buf();
    move |source| DiskError::Io {
        action,
        path,
        source,
    }
}

/// Checks a disk size and inode count before anything is made (the rule `fleet validate`
/// applies too: `fleet_protocol::disk`).
pub fn validate(space: u64, inodes: u64) -> Result<(), DiskError> {
    fleet_protocol::disk::check(space, Some(inodes)).map_err(|e| DiskError::Invalid {
        field: e.field,
        value: e.value,
        expected: e.expected,
    })
}

/// Options of the image's mount on the host. Nothing on the host side runs, opens devices or
/// gains privileges from a container's files: a setuid-root file or a device node made inside
/// is inert there. The container's own overlay is a mount of its own, with its own flags, so
/// setuid programs and executables still work inside.
pub const HOST_MOUNT_OPTIONS: &str = "nosuid,nodev,noexec";

impl Image {
    /// The image at `path` (made earlier by [`Image::create`]).
    pub fn open(path: &Path) -> Image {
        Image {
            path: path.to_path_buf(),
        }
    }

    /// Makes a sparse image of `space` bytes at `path` holding an ext4 file system with at least
    /// `inodes` inodes (mke2fs rounds up to whole inode-table blocks), with the quota feature
    /// when `quota` ([`super::quota`]). Fails if `path` exists.
    /// Building happens under `<path>.partial`, so a crash never leaves a half-made image.
    pub fn create(path: &Path, space: u64, inodes: u64, quota: bool) -> Result<Image, DiskError> {
        validate(space, inodes)?;
        if path.exists() {
            return Err(DiskError::Io {
                action: "create",
                path: path.to_path_buf(),
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        // Built under a temporary name and renamed when complete, so a crash midway never
        // leaves a file at `path` that is not a file system.
        let mut partial = path.as_os_str().to_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        // 0600: the image holds the container's files, which no host user may read.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(crate::store::FILE_MODE)
            .open(&partial)
            .map_err(io_err("create", &partial))?;
        file.set_len(space).map_err(io_err("size", &partial))?;
        drop(file);
        let mut args: Vec<OsString> = ["-q", "-F", "-m", "0", "-E", "nodiscard", "-b"]
            .into_iter()
            .map(OsString::from)
            .collect();
        args.push(BLOCK.to_string().into());
        args.push("-N".into());
        args.push(inodes.to_string().into());
        args.extend(quota::mkfs_args(quota).iter().map(OsString::from));
        args.push(partial.as_os_str().to_os_string());
        if let Err(err) = run("mkfs.ext4", args) {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
        std::fs::rename(&partial, path).map_err(io_err("rename into place", path))?;
        Ok(Image::open(path))
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether its file system has the quota feature (read from the superblock).
    pub fn has_quota(&self) -> Result<bool, DiskError> {
        quota::has_quota(&self.path)
    }

    /// The host's mount options, with `usrquota,grpquota` when the file system has quotas.
    pub fn mount_options(&self) -> Result<String, DiskError> {
        Ok(match self.has_quota()? {
            true => format!("{HOST_MOUNT_OPTIONS},{}", quota::QUOTA_MOUNT_OPTIONS),
            false => HOST_MOUNT_OPTIONS.to_owned(),
        })
    }

    /// Switches the quota feature on or off, detaching the image first (tune2fs changes only
    /// an unmounted ext4) and leaving it detached; a no-op when it is as asked. Returns whether
    /// anything changed.
    pub fn set_quota(&self, on: bool) -> Result<bool, DiskError> {
        if self.has_quota()? == on {
            return Ok(false);
        }
        self.detach()?;
        quota::switch(&self.path, on)?;
        Ok(true)
    }

    /// The image's size in bytes (the disk space limit).
    pub fn space(&self) -> Result<u64, DiskError> {
        std::fs::metadata(&self.path)
            .map(|m| m.len())
            .map_err(io_err("stat", &self.path))
    }

    /// The loop device the image is attached to, if any.
    pub fn device(&self) -> Result<Option<PathBuf>, DiskError> {
        let out = run(
            "losetup",
            [
                "--list".as_ref(),
                "--noheadings".as_ref(),
                "--output".as_ref(),
                "NAME".as_ref(),
                "--associated".as_ref(),
                self.path.as_os_str(),
            ],
        )?;
        Ok(out.lines().next().map(|l| PathBuf::from(l.trim())))
    }

    /// Attaches the image to a free loop device, or returns the one it is attached to already.
    pub fn attach(&self) -> Result<PathBuf, DiskError> {
        if let Some(dev) = self.device()? {
            return Ok(dev);
        }
        let out = run(
            "losetup",
            ["--find".as_ref(), "--show".as_ref(), self.path.as_os_str()],
        )?;
        Ok(PathBuf::from(out.trim()))
    }

    /// Attaches and mounts the image at `target` (an existing directory); a no-op when it is
    /// mounted there already. Returns the loop device. A fresh attachment is made by
    /// `mount -o loop`, which sets LO_FLAGS_AUTOCLEAR: any later unmount, by us or by a
    /// container teardown that only knows mounts, frees the loop device too.
    pub fn mount(&self, target: &Path) -> Result<PathBuf, DiskError> {
        let options = self.mount_options()?;
        if let Some(dev) = self.device()? {
            if mount_point_of(&dev).as_deref() == Some(canonical(target).as_path()) {
                return Ok(dev);
            }
            mount_ext4(&options, &dev, target)?;
            return Ok(dev);
        }
        mount_ext4(&format!("loop,{options}"), &self.path, target)?;
        self.device()?.ok_or_else(|| self.not_mounted())
    }

    /// Unmounts the image wherever it is mounted and detaches its loop device. Idempotent.
    pub fn detach(&self) -> Result<(), DiskError> {
        while let Some(dev) = self.device()? {
            let mut unmounted = false;
            while let Some(target) = mount_point_of(&dev) {
                run("umount", [target.as_os_str()])?;
                unmounted = true;
            }
            if unmounted && self.wait_released() {
                continue;
            }
            if let Err(err) = run("losetup", ["--detach".as_ref(), dev.as_os_str()]) {
                // Auto-clear may have freed it between our look and the detach.
                if self.device()?.is_some() {
                    return Err(err);
                }
            }
            // Detaching is asynchronous while the device is still being released; a device
            // listed after we return would be reused half-torn-down by the next mount.
            self.wait_released();
        }
        Ok(())
    }

    /// Usage of the mounted file system.
    pub fn usage(&self) -> Result<DiskUsage, DiskError> {
        let dev = self.device()?.ok_or_else(|| self.not_mounted())?;
        let target = mount_point_of(&dev).ok_or_else(|| self.not_mounted())?;
        usage_at(&target)
    }

    /// The device number of the image's loop device, for I/O limits.
    pub fn device_number(&self) -> Result<Option<DevNum>, DiskError> {
        match self.device()? {
            Some(dev) => device_number(&dev).map(Some),
            None => Ok(None),
        }
    }

    /// Checks whether a change from `(old_space, old_inodes)` to `(space, inodes)` can be made
    /// on the running container: growing is live; shrinking and a new inode count need a restart
    /// (and shrinking under what is used now is refused outright).
    pub fn check_change(&self, old_inodes: u64, space: u64, inodes: u64) -> Result<(), DiskError> {
        validate(space, inodes)?;
        let current = self.space()?;
        if let Ok(usage) = self.usage()
            && space < usage.space_used
        {
            return Err(DiskError::Invalid {
                field: "disk.space",
                value: format_size(space),
                expected: format!(
                    "the container uses {} of its disk now; valid is at least that much",
                    format_size(usage.space_used)
                ),
            });
        }
        if space < current {
            return Err(shrink_needs_stop(current, space));
        }
        if inodes != old_inodes {
            return Err(DiskError::NeedsRestart {
                field: "disk.inodes",
                reason: format!(
                    "the inode count ({old_inodes} to {inodes}) is fixed when the disk is made; \
                     changing it means a new disk"
                ),
            });
        }
        Ok(())
    }

    /// Grows the mounted file system to `space` bytes without unmounting it. Returns whether
    /// anything changed. Asking for less than the current size, or growing on a host where this
    /// process lacks CAP_SYS_RESOURCE (ext4 refuses online resizing without it), is
    /// [`DiskError::NeedsRestart`], checked before anything is touched.
    pub fn grow_online(&self, space: u64) -> Result<bool, DiskError> {
        if !self.check_grow(space)? {
            return Ok(false);
        }
        if !online_grow_supported() {
            return Err(DiskError::NeedsRestart {
                field: "disk.space",
                reason: "growing a mounted ext4 needs CAP_SYS_RESOURCE, which this fleet-node \
                         process lacks (dropped from its capability bounding set)"
                    .into(),
            });
        }
        let dev = self.device()?.ok_or_else(|| self.not_mounted())?;
        mount_point_of(&dev).ok_or_else(|| self.not_mounted())?;
        self.set_len(space)?;
        // LOOP_SET_CAPACITY: the loop device picks up the new file size while in use.
        run("losetup", ["--set-capacity".as_ref(), dev.as_os_str()])?;
        run("resize2fs", [dev.as_os_str()])?;
        Ok(true)
    }

    /// Grows the image to `space` bytes with the file system unmounted (the path for a stopped
    /// container, or a restart). Returns whether anything changed; see [`Image::resize_offline`].
    pub fn grow_offline(&self, space: u64, remount: Option<&Path>) -> Result<bool, DiskError> {
        if !self.check_grow(space)? {
            return Ok(false);
        }
        self.resize_offline(space, remount)
    }

    /// Resizes the image to `space` bytes, larger or smaller, with the file system unmounted:
    /// unmounts it if mounted, checks it, resizes the file system and the file (growing: file
    /// first; shrinking: file system first, refused by resize2fs if the data does not fit), and
    /// mounts it again at `remount` if given. Returns whether anything changed.
    pub fn resize_offline(&self, space: u64, remount: Option<&Path>) -> Result<bool, DiskError> {
        let current = self.space()?;
        if space == current {
            if let Some(target) = remount {
                self.mount(target)?;
            }
            return Ok(false);
        }
        validate(space, INODES_MIN)?;
        self.detach()?;
        let path = self.path.as_os_str();
        // resize2fs insists on a freshly checked file system when it is not mounted.
        run_accepting("e2fsck", ["-f".as_ref(), "-p".as_ref(), path], &[0, 1])?;
        if space > current {
            self.set_len(space)?;
            run("resize2fs", [path])?;
        } else {
            let blocks = format!("{}K", space / 1024);
            run("resize2fs", [path, blocks.as_ref()])?;
            self.set_len(space)?;
        }
        if let Some(target) = remount {
            self.mount(target)?;
        }
        Ok(true)
    }

    /// `false` when `space` is the current size, an error when it is smaller.
    fn check_grow(&self, space: u64) -> Result<bool, DiskError> {
        let current = self.space()?;
        if space < current {
            return Err(shrink_needs_stop(current, space));
        }
        if space > current {
            validate(space, INODES_MIN)?;
        }
        Ok(space > current)
    }

    fn set_len(&self, space: u64) -> Result<(), DiskError> {
        OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io_err("open", &self.path))?
            .set_len(space)
            .map_err(io_err("grow", &self.path))
    }

    /// After the last unmount of an auto-clearing loop device, or a detach, the kernel frees it
    /// shortly; waits for that (up to 5 s). Returns whether the device is gone.
    fn wait_released(&self) -> bool {
        for _ in 0..500 {
            if matches!(self.device(), Ok(None)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    }

    fn not_mounted(&self) -> DiskError {
        DiskError::NotMounted {
            path: self.path.clone(),
        }
    }
}

/// The refusal of a shrink from `current` to `space` bytes while the disk is in use.
fn shrink_needs_stop(current: u64, space: u64) -> DiskError {
    DiskError::NeedsRestart {
        field: "disk.space",
        reason: format!(
            "shrinking the disk from {} to {} needs the container stopped",
            format_size(current),
            format_size(space)
        ),
    }
}

/// Mounts `source` (a loop device, or the image with `loop` among `options`) at `target` as
/// ext4 with `options`.
fn mount_ext4(options: &str, source: &Path, target: &Path) -> Result<(), DiskError> {
    run(
        "mount",
        [
            "-t".as_ref(),
            "ext4".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
            source.as_os_str(),
            target.as_os_str(),
        ],
    )
    .map(drop)
}

/// Whether this process may resize a mounted ext4 (CAP_SYS_RESOURCE in its effective set).
pub fn online_grow_supported() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// Usage of the file system mounted at `target`.
pub fn usage_at(target: &Path) -> Result<DiskUsage, DiskError> {
    let st = nix::sys::statvfs::statvfs(target).map_err(|e| DiskError::Io {
        action: "statvfs",
        path: target.to_path_buf(),
        source: e.into(),
    })?;
    let frsize = st.fragment_size();
    Ok(DiskUsage {
        space_total: st.blocks() * frsize,
        space_used: (st.blocks() - st.blocks_free()) * frsize,
        inodes_total: st.files(),
        inodes_used: st.files() - st.files_free(),
    })
}

/// The `major:minor` of a block device node.
pub fn device_number(dev: &Path) -> Result<DevNum, DiskError> {
    let st = nix::sys::stat::stat(dev).map_err(|e| DiskError::Io {
        action: "stat",
        path: dev.to_path_buf(),
        source: e.into(),
    })?;
    Ok(DevNum {
        major: nix::sys::stat::major(st.st_rdev) as u32,
        minor: nix::sys::stat::minor(st.st_rdev) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_anything_is_made() {
        let err = validate(1 << 20, 1000).unwrap_err().to_string();
        assert!(err.contains("disk.space") && err.contains("16Mi"), "{err}");
        let err = validate(64 << 20, 10).unwrap_err().to_string();
        assert!(
            err.contains("disk.inodes") && err.contains("64..="),
            "{err}"
        );
        validate(64 << 20, 1000).unwrap();
    }
}
