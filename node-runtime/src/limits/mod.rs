//! Live resource limits: turns a container's [`Resources`] into cgroup control-file writes, and
//! reads them back from the kernel.
//!
//! One file per controller ([`cpu`], [`cpuset`], [`memory`], [`pids`], [`io`]), each knowing its
//! cgroup v1 and v2 files. Nothing here knows containers: the cgroup is reached through the
//! [`CgroupDirs`] trait (a controller name in, a directory out), so the same code runs against a
//! real cgroup, the core runtime's cgroup type (`crate::cgroups`) or a temp dir in unit tests.
//!
//! [`apply`] validates every field first (reading what it needs from the kernel: current usage,
//! the host's CPUs, which files exist) and only then writes, so a bad value changes nothing; if
//! the kernel still refuses a write midway, the files already written are put back as they were.
//! Neighbours: [`crate::counters`] reads usage and fail counts from the same files,
//! [`crate::disk`] owns `disk_space` and `disk_inodes`, which a cgroup cannot hold.

pub mod cpu;
pub mod cpuset;
pub mod error;
pub mod file;
pub mod host;
pub mod io;
pub mod io_scheduler;
pub mod memory;
pub mod pids;
pub mod reported;

use std::fmt;
use std::path::{Path, PathBuf};

use fleet_protocol::Resources;

pub use error::LimitError;
pub use host::{HostCgroups, LimitFeatures, features, probe};

/// Which cgroup interface a cgroup lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`/sys/fs/cgroup/<controller>/...`).
    V1,
    /// The unified hierarchy: one directory holds every enabled controller's files.
    V2,
}

impl CgroupVersion {
    /// 1 or 2, as the node's hello reports it.
    pub fn number(self) -> u8 {
        match self {
            CgroupVersion::V1 => 1,
            CgroupVersion::V2 => 2,
        }
    }
}

/// The controllers limits and counters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Controller {
    /// CPU weight and bandwidth (`cpu.shares`/`cpu.cfs_*` or `cpu.weight`/`cpu.max`).
    Cpu,
    /// CPU time accounting; v1 only (`cpuacct.usage`), folded into `cpu.stat` on v2.
    Cpuacct,
    /// CPU pinning.
    Cpuset,
    /// Memory and swap.
    Memory,
    /// Task count.
    Pids,
    /// Block I/O (`blkio` on v1, `io` on v2).
    Io,
}

impl Controller {
    /// Every controller, in the order limits are written.
    pub const ALL: [Controller; 6] = [
        Controller::Cpuset,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Memory,
        Controller::Pids,
        Controller::Io,
    ];

    /// The controller's name in `version`'s interface (`blkio` on v1, `io` on v2).
    pub fn name(self, version: CgroupVersion) -> &'static str {
        match (self, version) {
            (Controller::Cpu, _) => "cpu",
            (Controller::Cpuacct, _) => "cpuacct",
            (Controller::Cpuset, _) => "cpuset",
            (Controller::Memory, _) => "memory",
            (Controller::Pids, _) => "pids",
            (Controller::Io, CgroupVersion::V1) => "blkio",
            (Controller::Io, CgroupVersion::V2) => "io",
        }
    }
}

/// Where one container's cgroup lives, per controller. Implemented by [`Dirs`] here and meant to
/// be implemented by the core runtime's cgroup handle.
pub trait CgroupDirs {
    /// The interface the cgroup lives in.
    fn version(&self) -> CgroupVersion;
    /// The directory holding `controller`'s files for this cgroup, or `None` when that controller
    /// is not mounted (v1) or not enabled for it (v2).
    fn controller_dir(&self, controller: Controller) -> Option<PathBuf>;
}

/// A plain [`CgroupDirs`]: a list of controller directories (v1) or one directory (v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    version: CgroupVersion,
    dirs: Vec<(Controller, PathBuf)>,
}

impl Dirs {
    /// A v1 cgroup named `relative` under each controller's mount `root/<controller>`; a
    /// controller whose mount directory is missing is left out.
    pub fn v1(root: &Path, relative: &str) -> Dirs {
        let dirs = Controller::ALL
            .iter()
            .filter_map(|&c| {
                let mount = root.join(c.name(CgroupVersion::V1));
                mount.is_dir().then(|| (c, mount.join(relative)))
            })
            .collect();
        Dirs {
            version: CgroupVersion::V1,
            dirs,
        }
    }

    /// A v2 cgroup at `dir`; the controllers it has are those its `cgroup.controllers` lists
    /// (the ones its parent enabled). `cpu.stat` exists in every v2 cgroup, so cpu accounting is
    /// always there.
    pub fn v2(dir: &Path) -> Dirs {
        let listed = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        let mut dirs: Vec<(Controller, PathBuf)> = Controller::ALL
            .iter()
            .filter(|c| {
                listed
                    .split_whitespace()
                    .any(|n| n == c.name(CgroupVersion::V2))
            })
            .map(|&c| (c, dir.to_path_buf()))
            .collect();
        dirs.push((Controller::Cpuacct, dir.to_path_buf()));
        Dirs {
            version: CgroupVersion::V2,
            dirs,
        }
    }

    /// Explicit directories, for tests and for callers that resolved them already.
    pub fn new(version: CgroupVersion, dirs: Vec<(Controller, PathBuf)>) -> Dirs {
        Dirs { version, dirs }
    }
}

impl CgroupDirs for Dirs {
    fn version(&self) -> CgroupVersion {
        self.version
    }

    fn controller_dir(&self, controller: Controller) -> Option<PathBuf> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, d)| d.clone())
    }
}

/// A block device number (`major:minor`), for I/O limits on the container's own disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevNum {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// One control-file write, with what to write back if a later write of the same batch fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Control file.
    pub path: PathBuf,
    /// Value to write.
    pub value: String,
    /// Value that restores the file's previous state (`None` when the file needs no restoring).
    pub restore: Option<String>,
}

/// Validated writes for one cgroup, in the order they must happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The writes.
    pub steps: Vec<Step>,
}

impl Plan {
    pub(crate) fn push(
        &mut self,
        path: PathBuf,
        value: impl Into<String>,
        restore: Option<String>,
    ) {
        self.steps.push(Step {
            path,
            value: value.into(),
            restore,
        });
    }

    /// Adds a write of `value` to `path` that a failure restores to what `path` holds now.
    pub(crate) fn replace(
        &mut self,
        path: PathBuf,
        value: impl Into<String>,
    ) -> Result<(), LimitError> {
        let old = file::read(&path)?;
        self.push(path, value, Some(old));
        Ok(())
    }

    /// Writes every step in order. If one fails, the steps already written are restored in
    /// reverse order (best effort) and the failure is returned.
    pub fn execute(&self) -> Result<(), LimitError> {
        for (done, step) in self.steps.iter().enumerate() {
            if let Err(err) = file::write(&step.path, &step.value) {
                for earlier in self.steps[..done].iter().rev() {
                    if let Some(old) = &earlier.restore {
                        // The original error is the one worth reporting; a failed restore
                        // leaves a state the next apply overwrites anyway.
                        let _ = file::write(&earlier.path, old);
                    }
                }
                return Err(err);
            }
        }
        Ok(())
    }
}

/// Context a controller needs while planning: its directory and the cgroup version.
pub(crate) struct Ctx {
    pub version: CgroupVersion,
    dir: Option<PathBuf>,
    controller: Controller,
}

impl Ctx {
    fn of(cgroup: &dyn CgroupDirs, controller: Controller) -> Ctx {
        Ctx {
            version: cgroup.version(),
            dir: cgroup.controller_dir(controller),
            controller,
        }
    }

    /// The controller's directory; without one, `None` when none of `fields` (each a field
    /// name and whether the spec sets it) is set, else an "unsupported" error for the first set
    /// one, naming the missing controller.
    pub fn dir_for(&self, fields: &[(&'static str, bool)]) -> Result<Option<&Path>, LimitError> {
        if let Some(dir) = self.dir.as_deref() {
            return Ok(Some(dir));
        }
        match fields.iter().find(|(_, set)| *set) {
            None => Ok(None),
            Some((field, _)) => Err(LimitError::unsupported(
                field,
                format!(
                    "the {} controller is not available to this cgroup (cgroup v{})",
                    self.controller.name(self.version),
                    self.version.number()
                ),
            )),
        }
    }
}

/// Validates `resources` against `cgroup` and the kernel's current state, returning the writes
/// that would apply them. Reads only; changes nothing.
pub fn plan(
    cgroup: &dyn CgroupDirs,
    resources: &Resources,
    io_device: Option<DevNum>,
) -> Result<Plan, LimitError> {
    let mut plan = Plan::default();
    cpuset::plan(&Ctx::of(cgroup, Controller::Cpuset), resources, &mut plan)?;
    cpu::plan(&Ctx::of(cgroup, Controller::Cpu), resources, &mut plan)?;
    memory::plan(&Ctx::of(cgroup, Controller::Memory), resources, &mut plan)?;
    pids::plan(&Ctx::of(cgroup, Controller::Pids), resources, &mut plan)?;
    io::plan(
        &Ctx::of(cgroup, Controller::Io),
        &resources.io,
        io_device,
        &mut plan,
    )?;
    Ok(plan)
}

/// Writes every limit of `resources` into the cgroup (an unset field removes that limit), live.
/// Validates everything first: a bad value returns an error naming the field and the valid range,
/// and the old limits stay. I/O bandwidth limits need [`apply_with_device`].
pub fn apply(cgroup: &dyn CgroupDirs, resources: &Resources) -> Result<(), LimitError> {
    apply_with_device(cgroup, resources, None)
}

/// [`apply`], with the container's disk device for I/O bandwidth limits.
pub fn apply_with_device(
    cgroup: &dyn CgroupDirs,
    resources: &Resources,
    io_device: Option<DevNum>,
) -> Result<(), LimitError> {
    plan(cgroup, resources, io_device)?.execute()
}

/// Reads the limits the kernel enforces now (for drift detection: compare with
/// [`effective`] of the spec). `disk_space` and `disk_inodes` are left `None`: they live on the
/// disk image ([`crate::disk`]).
pub fn read_live(cgroup: &dyn CgroupDirs) -> Result<Resources, LimitError> {
    read_live_with_device(cgroup, None)
}

/// [`read_live`], also reading I/O bandwidth limits for `io_device`.
pub fn read_live_with_device(
    cgroup: &dyn CgroupDirs,
    io_device: Option<DevNum>,
) -> Result<Resources, LimitError> {
    let mut out = Resources::default();
    if let Some(dir) = cgroup.controller_dir(Controller::Cpu) {
        (out.cpu_units, out.cpu_limit) = cpu::read(cgroup.version(), &dir)?;
    }
    if let Some(dir) = cgroup.controller_dir(Controller::Cpuset) {
        out.cpus = cpuset::read(cgroup.version(), &dir)?;
    }
    if let Some(dir) = cgroup.controller_dir(Controller::Memory) {
        memory::read(cgroup.version(), &dir, &mut out)?;
    }
    if let Some(dir) = cgroup.controller_dir(Controller::Pids) {
        out.pids = pids::read(&dir)?;
    }
    if let Some(dir) = cgroup.controller_dir(Controller::Io) {
        out.io = io::read(cgroup.version(), &dir, io_device)?;
    }
    Ok(out)
}

/// What the node's live view (`Runtime::live_resources`: [`read_live`] plus the disk image)
/// returns after `resources` were applied on a host of `version` with `host_cpus` online: the
/// kernel's rounding (pages, weight steps) and defaults (an explicit default weight reads back as
/// unset, an unset inode count as mke2fs's default) applied. Drift is
/// `effective(spec) != live`. I/O caps read back only with the disk's device.
pub fn effective(resources: &Resources, version: CgroupVersion, host_cpus: &str) -> Resources {
    let mut out = resources.clone();
    out.cpu_units = resources
        .cpu_units
        .map(|u| cpu::units_round_trip(u, version))
        .filter(|&u| u != cpu::UNITS_DEFAULT);
    out.cpus = resources
        .cpus
        .as_deref()
        .and_then(|c| cpuset::canonical(c).ok())
        .filter(|c| cpuset::canonical(host_cpus).ok().as_deref() != Some(c.as_str()));
    out.pids = Some(resources.pids.unwrap_or(fleet_protocol::DEFAULT_PIDS));
    out.memory = resources.memory.map(memory::page_round);
    out.memory_high = resources.memory_high.map(memory::page_round);
    out.swap = match (resources.memory, resources.swap) {
        (Some(_), Some(s)) => Some(memory::page_round(s)),
        _ => None,
    };
    // A priority is read back as the weight it was written as.
    out.io.weight = resources
        .io
        .effective_weight()
        .map(io::weight_round_trip)
        .filter(|&w| w != 100);
    out.io.priority = None;
    // The runtime's live view reads the disk back as asked (see `Runtime::live_resources`);
    // an unset inode count means mke2fs's default ratio.
    out.disk_inodes = resources.disk_space.map(|space| {
        resources
            .disk_inodes
            .unwrap_or_else(|| crate::disk::paths::default_inodes(space))
    });
    out
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod kernel_tests;

#[cfg(test)]
mod dir_tests;
