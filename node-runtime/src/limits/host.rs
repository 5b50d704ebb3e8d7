//! The host's cgroup layout and what it can enforce, found at run time from
//! `/proc/self/mountinfo` and the files the kernel offers.
//!
//! [`HostCgroups`] says which interface carries the controllers (v1 when any of cpu, memory or
//! pids is mounted as a v1 hierarchy, v2 when only a cgroup2 mount exists) and builds [`Dirs`]
//! for a cgroup path. [`features`] / [`probe`] report which limits can be enforced, so the
//! node's hello can tell the orchestrator (and its plan can show) what this host cannot do.

use std::path::{Path, PathBuf};

use super::{CgroupDirs, CgroupVersion, Controller, Dirs, io, memory};

/// Where the host mounts its cgroup hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCgroups {
    /// The interface the controllers are bound to.
    pub version: CgroupVersion,
    /// v1 mount point of each mounted controller.
    pub v1: Vec<(Controller, PathBuf)>,
    /// The cgroup2 mount point, if any (on a hybrid host it carries few or no controllers).
    pub unified: Option<PathBuf>,
}

impl HostCgroups {
    /// Reads this process's mount table.
    pub fn detect() -> HostCgroups {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        HostCgroups::from_mountinfo(&text)
    }

    /// Parses a `/proc/<pid>/mountinfo` text.
    pub fn from_mountinfo(text: &str) -> HostCgroups {
        let mut v1 = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split_whitespace().nth(4) else {
                continue;
            };
            let mut right = right.split_whitespace();
            let fs_type = right.next().unwrap_or("");
            let super_opts = right.nth(1).unwrap_or("");
            match fs_type {
                "cgroup2" => unified = Some(PathBuf::from(mount_point)),
                "cgroup" => {
                    for c in Controller::ALL {
                        let name = c.name(CgroupVersion::V1);
                        if super_opts.split(',').any(|o| o == name) {
                            v1.push((c, Path::new(mount_point).to_path_buf()));
                        }
                    }
                }
                _ => {}
            }
        }
        let bound_to_v1 = v1
            .iter()
            .any(|(c, _)| matches!(c, Controller::Cpu | Controller::Memory | Controller::Pids));
        HostCgroups {
            version: if bound_to_v1 || unified.is_none() {
                CgroupVersion::V1
            } else {
                CgroupVersion::V2
            },
            v1,
            unified,
        }
    }

    /// The cgroup at `relative` (such as `fleet/web-01`) in the interface carrying controllers.
    pub fn cgroup(&self, relative: &str) -> Dirs {
        match (self.version, &self.unified) {
            (CgroupVersion::V2, Some(root)) => Dirs::v2(&root.join(relative)),
            _ => Dirs::new(
                CgroupVersion::V1,
                self.v1
                    .iter()
                    .map(|(c, mount)| (*c, mount.join(relative)))
                    .collect(),
            ),
        }
    }

    /// The cgroup at `relative` on the cgroup2 mount, whatever carries the controllers (for
    /// exercising the v2 code on a hybrid host).
    pub fn unified_cgroup(&self, relative: &str) -> Option<Dirs> {
        self.unified
            .as_ref()
            .map(|root| Dirs::v2(&root.join(relative)))
    }
}

/// Which limits a host (or one cgroup) can enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitFeatures {
    /// Interface carrying the controllers.
    pub version: CgroupVersion,
    /// cpu.units and cpu.limit.
    pub cpu: bool,
    /// cpu.cpus.
    pub cpuset: bool,
    /// memory.
    pub memory: bool,
    /// swap (the kernel accounts swap).
    pub swap: bool,
    /// pids.
    pub pids: bool,
    /// io.read_bps and the other caps.
    pub io_caps: bool,
    /// io.weight.
    pub io_weight: bool,
    /// One line per missing feature, for the hello's notes and the plan.
    pub notes: Vec<String>,
}

impl LimitFeatures {
    /// Copies what the node's hello carries into the protocol's feature set.
    pub fn fill(&self, features: &mut fleet_protocol::Features) {
        features.io_weight = self.io_weight;
        features.notes.extend(self.notes.iter().cloned());
    }
}

/// Probes the cgroup `cgroup` (the root, or the parent containers are made in): each limit is
/// supported when its controller is there and its control file exists.
pub fn probe(cgroup: &dyn CgroupDirs) -> LimitFeatures {
    let version = cgroup.version();
    let dir = |c| cgroup.controller_dir(c);
    // The root of a v2 hierarchy has no limit files at all, so on v2 a controller being
    // available is what counts; on v1 the root has every file its controller offers.
    let has = |c: Controller, v1_file: &str| match (dir(c), version) {
        (Some(d), CgroupVersion::V1) => d.join(v1_file).exists(),
        (Some(_), CgroupVersion::V2) => true,
        (None, _) => false,
    };
    let cpu = has(Controller::Cpu, "cpu.cfs_quota_us");
    let cpuset = has(Controller::Cpuset, "cpuset.cpus");
    let memory = has(Controller::Memory, "memory.limit_in_bytes");
    let swap = match (dir(Controller::Memory), version) {
        (Some(d), CgroupVersion::V1) => memory::swap_supported(version, &d),
        (Some(_), CgroupVersion::V2) => !kernel_cmdline().contains("swapaccount=0"),
        (None, _) => false,
    };
    let pids = match version {
        // pids.max does not exist in a v1 root either.
        CgroupVersion::V1 => dir(Controller::Pids).is_some(),
        CgroupVersion::V2 => has(Controller::Pids, ""),
    };
    let io_dir = dir(Controller::Io);
    let io_caps = match (&io_dir, version) {
        (Some(d), CgroupVersion::V1) => d.join("blkio.throttle.read_bps_device").exists(),
        (Some(_), CgroupVersion::V2) => true,
        (None, _) => false,
    };
    let io_weight = match (&io_dir, version) {
        (Some(d), CgroupVersion::V1) => io::weight_file(version, d).is_some(),
        (Some(_), CgroupVersion::V2) => true,
        (None, _) => false,
    };
    let mut notes = Vec::new();
    for (ok, what) in [
        (cpu, "cpu.units and cpu.limit: no cpu controller"),
        (cpuset, "cpu.cpus: no cpuset controller"),
        (memory, "memory: no memory controller"),
        (swap, "swap: the kernel does not account swap"),
        (pids, "pids: no pids controller"),
        (io_caps, "io caps: no blk-throttle in the io controller"),
        (
            io_weight,
            "io.weight: no I/O weight file (needs the BFQ scheduler with group scheduling)",
        ),
    ] {
        if !ok {
            notes.push(format!("{what} (cgroup v{})", version.number()));
        }
    }
    LimitFeatures {
        version,
        cpu,
        cpuset,
        memory,
        swap,
        pids,
        io_caps,
        io_weight,
        notes,
    }
}

fn kernel_cmdline() -> String {
    std::fs::read_to_string("/proc/cmdline").unwrap_or_default()
}

/// Probes this host's root cgroup.
pub fn features() -> LimitFeatures {
    probe(&HostCgroups::detect().cgroup(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_hosts_use_v1_and_keep_the_unified_mount() {
        let host = HostCgroups::from_mountinfo(HYBRID);
        assert_eq!(host.version, CgroupVersion::V1);
        assert_eq!(host.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert!(
            host.v1
                .contains(&(Controller::Io, PathBuf::from("/sys/fs/cgroup/blkio")))
        );
    }

    #[test]
    fn pure_v2_hosts_use_v2() {
        let host = HostCgroups::from_mountinfo(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        assert_eq!(host.version, CgroupVersion::V2);
    }
}
