//! The container runtime's resources: the glue between the verbs and the limits, disk and
//! counters modules, in one place so that those modules know nothing of [`Runtime`] or of each
//! other's errors. Here the core's [`Cgroup`] becomes a [`CgroupDirs`], [`LimitError`] and
//! [`DiskError`] become the runtime's [`Error`], limits are checked, written and read back
//! ([`Runtime::apply_resources`] and [`Runtime::live_resources`] delegate here), the disk is made
//! into the container's writable layer (the image lives at `<container>/disk.img`, is mounted at
//! `<container>/disk` and holds the overlay's `upper` and `work`, so everything the container
//! writes counts against its space and inodes), and beancounters are read.
//!
//! The start verb calls [`Runtime::writable_layer`] before init is spawned; the image is sized to
//! the spec there, which is where shrinking and growing without CAP_SYS_RESOURCE happen (the
//! container is stopped).

use std::fs;
use std::path::PathBuf;

use fleet_protocol::{ContainerSpec, Resources};

use super::Runtime;
use crate::cgroups::{Cgroup, Version};
use crate::counters::{self, ContainerCounters};
use crate::disk::paths::{default_inodes, image_path, inodes_path, mount_path};
use crate::disk::{self, DiskError, Image};
use crate::error::{Error, Result, io_err};
use crate::limits::{self, CgroupDirs, CgroupVersion, Controller, DevNum, LimitError};
use crate::store::{Layout, atomic_write, validate_name};

impl CgroupDirs for Cgroup {
    fn version(&self) -> CgroupVersion {
        match Cgroup::version(self) {
            Version::V1 => CgroupVersion::V1,
            Version::V2 => CgroupVersion::V2,
        }
    }

    fn controller_dir(&self, controller: Controller) -> Option<PathBuf> {
        let version = CgroupDirs::version(self);
        match (controller, version) {
            // cpu.stat is a core file of every v2 group; it is where CPU time is counted.
            (Controller::Cpuacct, CgroupVersion::V2) => self.dirs().into_iter().next(),
            (c, v) => Cgroup::controller_dir(self, c.name(v)),
        }
    }
}

/// The runtime's error for a limit that could not be applied to container `name`.
pub fn limit_error(name: &str, err: LimitError) -> Error {
    match err {
        LimitError::Write { path, source, .. } => Error::Io {
            action: "write limit to",
            path,
            source,
        },
        LimitError::Read { path, source } => Error::Io {
            action: "read",
            path,
            source,
        },
        source => Error::Limit {
            name: name.to_owned(),
            source: Box::new(source),
        },
    }
}

/// The loop device container `name`'s disk is attached to (the start has just mounted it): the
/// device a `disk.user_quota` container's quota broker works on.
pub(crate) fn disk_device(name: &str, layout: &Layout) -> Result<Option<PathBuf>> {
    Image::open(&image_path(layout))
        .device()
        .map_err(|e| disk_error(name, e))
}

/// The runtime's error for a disk operation on container `name`.
pub fn disk_error(name: &str, err: DiskError) -> Error {
    match err {
        DiskError::NeedsRestart { field, reason } => Error::NeedsRestart {
            name: name.to_owned(),
            fields: format!("resources.{} ({reason})", field.replace("disk.", "disk_")),
        },
        DiskError::Io {
            action,
            path,
            source,
        } => Error::Io {
            action,
            path,
            source,
        },
        DiskError::Command {
            program,
            args,
            status,
            stderr,
        } => Error::Command {
            program: format!("{program} {args}"),
            status,
            stderr,
        },
        source => Error::Disk {
            name: name.to_owned(),
            source: Box::new(source),
        },
    }
}

/// A container's disk image as found mounted on the host.
pub(crate) struct MountedDisk {
    /// The image.
    pub image: disk::Image,
    /// Its loop device's number, for I/O caps.
    pub device: Option<DevNum>,
    /// Where it is mounted.
    pub mount: PathBuf,
}

impl Runtime {
    /// Validates `resources` against the container's cgroup and disk as they are now (memory in
    /// use, running tasks, host CPUs, used disk space) without writing anything.
    pub(crate) fn check_limits(&self, cgroup: &Cgroup, resources: &Resources) -> Result<()> {
        let name = cgroup.name();
        let disk = self.mounted_disk(name);
        if cgroup.exists() {
            let device = disk.as_ref().and_then(|d| d.device);
            limits::plan(cgroup, resources, device).map_err(|e| limit_error(name, e))?;
        }
        if let (Some(disk), Some(space)) = (&disk, resources.disk_space) {
            let used = disk::usage_at(&disk.mount).map_err(|e| disk_error(name, e))?;
            if space < used.space_used {
                return Err(disk_error(
                    name,
                    DiskError::Invalid {
                        field: "disk.space",
                        value: fleet_protocol::units::format_size(space),
                        expected: format!(
                            "the container uses {} of its disk now; valid is at least that much",
                            fleet_protocol::units::format_size(used.space_used)
                        ),
                    },
                ));
            }
        }
        if let Some(space) = resources.disk_space {
            let inodes = resources
                .disk_inodes
                .unwrap_or_else(|| disk::paths::default_inodes(space));
            disk::validate(space, inodes).map_err(|e| disk_error(name, e))?;
        }
        Ok(())
    }

    /// Validates every limit, grows the container's disk if it is mounted and asked to be
    /// bigger, then writes the cgroup limits. A disk grow that cannot happen live is left to the
    /// restart that `update` arranges (it lists the grow among the restart fields on such hosts).
    pub(crate) fn apply_limits(&self, cgroup: &Cgroup, resources: &Resources) -> Result<()> {
        let name = cgroup.name();
        let disk = self.mounted_disk(name);
        let device = disk.as_ref().and_then(|d| d.device);
        let plan = limits::plan(cgroup, resources, device).map_err(|e| limit_error(name, e))?;
        if let (Some(disk), Some(space)) = (&disk, resources.disk_space) {
            match disk.image.grow_online(space) {
                Ok(_) | Err(DiskError::NeedsRestart { .. }) => {}
                Err(e) => return Err(disk_error(name, e)),
            }
        }
        plan.execute().map_err(|e| limit_error(name, e))
    }

    /// Limits as the kernel and the disk have them. `disk_inodes` reads as the spec's count
    /// when the file system has at least that many (mke2fs rounds up), else as the real count.
    /// Spawns no process: this runs once per container for every list.
    pub(crate) fn live_limits(&self, cgroup: &Cgroup) -> Resources {
        let name = cgroup.name();
        let disk = self.mounted_disk(name);
        let device = disk.as_ref().and_then(|d| d.device);
        let mut live = if cgroup.exists() {
            limits::read_live_with_device(cgroup, device).unwrap_or_default()
        } else {
            Resources::default()
        };
        if let Some(disk) = disk {
            live.disk_space = disk.image.space().ok();
            let wanted =
                self.store.read_config(name).ok().flatten().and_then(|s| {
                    limits::effective(&s.resources, CgroupVersion::V1, "").disk_inodes
                });
            live.disk_inodes = disk::usage_at(&disk.mount).ok().map(|u| match wanted {
                Some(w) if u.inodes_total >= w => w,
                _ => u.inodes_total,
            });
        }
        live
    }

    /// The container's disk image when it is mounted on the host (read from the mount table).
    pub(crate) fn mounted_disk(&self, name: &str) -> Option<MountedDisk> {
        let layout = self.store.layout(name);
        let path = disk::paths::image_path(&layout);
        if !path.exists() {
            return None;
        }
        let mount = disk::paths::mount_path(&layout);
        let source = disk::mounted_source(&mount)?;
        Some(MountedDisk {
            image: disk::Image::open(&path),
            device: disk::device_number(&source).ok(),
            mount,
        })
    }
}

impl Runtime {
    /// Makes (the first time), sizes and mounts the container's disk, with quotas inside when
    /// `spec.disk.user_quota` (refused where the kernel cannot keep them), returning the
    /// overlay's upper and work directories on it; the store's directories when the spec has
    /// no disk. Idempotent. The container must be stopped (its overlay holds the upper dir
    /// otherwise).
    pub fn writable_layer(&self, name: &str, spec: &ContainerSpec) -> Result<(PathBuf, PathBuf)> {
        let (resources, quota) = (&spec.resources, spec.disk.user_quota);
        let layout = self.store.layout(name);
        let Some(space) = resources.disk_space else {
            return Ok((layout.upper, layout.work));
        };
        check_user_quota(name, quota)?;
        let inodes = resources
            .disk_inodes
            .unwrap_or_else(|| default_inodes(space));
        let path = image_path(&layout);
        let target = mount_path(&layout);
        fs::create_dir_all(&target).map_err(io_err("create directory", &target))?;
        let recorded = fs::read_to_string(inodes_path(&layout))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        if !path.exists() {
            Image::create(&path, space, inodes, quota).map_err(|e| disk_error(name, e))?;
        } else if recorded.is_some_and(|r| r != inodes) {
            rebuild(name, &layout, space, inodes, quota)?;
        }
        if recorded != Some(inodes) {
            atomic_write(&inodes_path(&layout), inodes.to_string().as_bytes())?;
        }
        let image = Image::open(&path);
        image.set_quota(quota).map_err(|e| disk_error(name, e))?;
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

/// A new inode count means a new file system: makes one beside the old image, copies the files
/// over (`cp -a`), and renames it into place. The old image stays untouched until the rename,
/// so a failure (the files do not fit in the new count) or a crash leaves it as it was.
fn rebuild(name: &str, layout: &Layout, space: u64, inodes: u64, quota: bool) -> Result<()> {
    let path = image_path(layout);
    let target = mount_path(layout);
    let mut fresh_path = path.as_os_str().to_os_string();
    fresh_path.push(".new");
    let fresh_path = PathBuf::from(fresh_path);
    let fresh_mount = layout.dir.join("disk.new");
    let fresh = Image::open(&fresh_path);
    // Leftovers of an interrupted rebuild.
    fresh.detach().map_err(|e| disk_error(name, e))?;
    let _ = fs::remove_file(&fresh_path);
    let old = Image::open(&path);
    old.mount(&target).map_err(|e| disk_error(name, e))?;
    Image::create(&fresh_path, space, inodes, quota).map_err(|e| disk_error(name, e))?;
    fs::create_dir_all(&fresh_mount).map_err(io_err("create directory", &fresh_mount))?;
    let copied = fresh
        .mount(&fresh_mount)
        .map_err(|e| disk_error(name, e))
        .and_then(|_| {
            let mut from = target.as_os_str().to_os_string();
            from.push("/.");
            disk::command::run(
                "cp",
                [
                    "-a".as_ref(),
                    "--one-file-system".as_ref(),
                    from.as_os_str(),
                    fresh_mount.as_os_str(),
                ],
            )
            .map_err(|e| Error::InvalidSpec {
                name: name.to_owned(),
                message: format!(
                    "the container's files do not fit on a new disk with {inodes} inodes \
                     (the old disk is kept): {e}"
                ),
            })
        });
    fresh.detach().map_err(|e| disk_error(name, e))?;
    if let Err(err) = copied {
        let _ = fs::remove_file(&fresh_path);
        let _ = fs::remove_dir(&fresh_mount);
        return Err(err);
    }
    old.detach().map_err(|e| disk_error(name, e))?;
    fs::rename(&fresh_path, &path).map_err(io_err("rename into place", &path))?;
    let _ = fs::remove_dir(&fresh_mount);
    Ok(())
}

/// Refuses `disk.user_quota` where the kernel cannot keep quotas on an ext4 (it would mount the
/// disk read-only), naming what is missing.
pub(crate) fn check_user_quota(name: &str, quota: bool) -> Result<()> {
    match quota {
        true => disk::quota::kernel_support().map_err(|message| Error::InvalidSpec {
            name: name.to_owned(),
            message,
        }),
        false => Ok(()),
    }
}

impl Runtime {
    /// Counters of container `name`, or of every container on the node (sorted by name).
    pub fn counters(&self, name: Option<&str>) -> Result<Vec<ContainerCounters>> {
        let names = match name {
            Some(n) => {
                validate_name(n)?;
                if !self.store.layout(n).config.exists() {
                    return Err(Error::NotFound(n.to_owned()));
                }
                vec![n.to_owned()]
            }
            None => self.store.names()?,
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let cgroup = self.cgroup(&name);
            if !cgroup.exists() {
                out.push(ContainerCounters {
                    name,
                    counters: Vec::new(),
                    pressure: Vec::new(),
                });
                continue;
            }
            let mount = self.mounted_disk(&name).map(|d| d.mount);
            let counters = counters::read(&name, &cgroup, mount.as_deref())
                .map_err(|e| limit_error(&name, e))?;
            out.push(counters);
        }
        Ok(out)
    }
}
