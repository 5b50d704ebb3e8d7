//! Glue between the limits module and the core runtime: the core's [`Cgroup`] as a
//! [`CgroupDirs`], [`LimitError`] as the runtime's [`Error`], and the two hooks the container
//! verbs call ([`Runtime::apply_resources`] and [`Runtime::live_resources`] delegate here).

use std::path::PathBuf;

use fleet_protocol::Resources;

use super::{CgroupDirs, CgroupVersion, Controller, DevNum, LimitError};
use crate::cgroups::{Cgroup, Version};
use crate::container::Runtime;
use crate::disk::{self, DiskError};
use crate::error::{Error, Result};

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
        other => Error::InvalidSpec {
            name: name.to_owned(),
            message: other.to_string(),
        },
    }
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
        other => Error::InvalidSpec {
            name: name.to_owned(),
            message: other.to_string(),
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
            super::plan(cgroup, resources, device).map_err(|e| limit_error(name, e))?;
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
                .unwrap_or_else(|| disk::runtime::default_inodes(space));
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
        let plan = super::plan(cgroup, resources, device).map_err(|e| limit_error(name, e))?;
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
            super::read_live_with_device(cgroup, device).unwrap_or_default()
        } else {
            Resources::default()
        };
        if let Some(disk) = disk {
            live.disk_space = disk.image.space().ok();
            let wanted =
                self.store.read_config(name).ok().flatten().and_then(|s| {
                    super::effective(&s.resources, CgroupVersion::V1, "").disk_inodes
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
        let path = disk::runtime::image_path(&layout);
        if !path.exists() {
            return None;
        }
        let mount = disk::runtime::mount_path(&layout);
        let source = disk::mounted_source(&mount)?;
        Some(MountedDisk {
            image: disk::Image::open(&path),
            device: disk::device_number(&source).ok(),
            mount,
        })
    }
}
