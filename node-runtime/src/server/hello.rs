//! What the node says about itself in its hello: versions, kernel, cgroup version, features
//! detected at run time, capacity.

use std::path::Path;

use fleet_protocol::{Capacity, Features, NodeInfo, PROTOCOL_VERSION, WeightFile};

use crate::cgroups::Version;
use crate::container::Runtime;
use crate::limits::io_scheduler::{self, WeightHonour};

/// Describes this node.
pub fn node_info(runtime: &Runtime) -> NodeInfo {
    let uname = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uname
            .as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (uid_ranges_free, uid_ranges) = runtime.uid_ranges_report().ok().unzip();
    NodeInfo {
        protocol_version: PROTOCOL_VERSION,
        node_version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: field(|u| u.nodename()),
        kernel: field(|u| u.release()),
        cgroup_version: runtime.cgroups.version().number(),
        features: features(runtime),
        capacity: Capacity {
            uid_ranges_free,
            uid_ranges,
            ..capacity(runtime.store.root())
        },
        interrupted_batch: super::journal::interrupted(runtime.store.root()),
        supervisor: crate::supervise::running(runtime.store.root()),
    }
}

fn features(runtime: &Runtime) -> Features {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let overlayfs = filesystems.lines().any(|l| l.ends_with("overlay"));
    let mount = runtime.cgroups.mount();
    let mut notes = Vec::new();
    let io_weight_file = match runtime.cgroups.version() {
        Version::V1 if mount.join("blkio/blkio.bfq.weight").exists() => WeightFile::BlkioBfqWeight,
        Version::V1 if mount.join("blkio/blkio.weight").exists() => WeightFile::BlkioWeight,
        Version::V1 => WeightFile::None,
        Version::V2 => {
            let honour = io_scheduler::detect(Path::new("/sys"), mount, runtime.store.root());
            if let WeightHonour::Ignored(why) = &honour {
                notes.push(format!("io.weight is ignored on this host: {why}"));
            }
            honour.v2_file()
        }
    };
    let io_weight = !io_weight_file.is_none();
    let criu = crate::checkpoint::criu::probe(runtime.criu.as_deref());
    notes.extend(criu.note());
    let dirty_track = criu.usable().map(crate::checkpoint::criu::dirty_tracking);
    if let Some(Err(why)) = &dirty_track {
        notes.push(format!(
            "criu: {why}; {}",
            fleet_protocol::live::NO_PRE_DUMPS
        ));
    }
    // Limits this host cannot enforce, so the orchestrator's plan can show them.
    notes.extend(crate::limits::probe(&runtime.cgroups.group("", "")).notes);
    if crate::container::lower_layers() == crate::container::LowerLayers::ShiftedCopies {
        notes.push(
            "templates: a shifted copy per unprivileged container (this kernel cannot idmap \
             overlayfs layers, which needs 5.19)"
                .to_owned(),
        );
    }
    if !crate::disk::online_grow_supported() {
        notes.push(
            "disk.space: growing a running container's disk needs a restart here \
             (ext4 online resize needs CAP_SYS_RESOURCE)"
                .to_owned(),
        );
    }
    let user_quota = crate::disk::quota::kernel_support();
    notes.extend(user_quota.clone().err());
    Features {
        loop_devices: Path::new("/dev/loop-control").exists(),
        overlayfs,
        criu: criu.usable().is_some(),
        criu_mem_dirty_track: matches!(dirty_track, Some(Ok(()))),
        criu_version: match criu {
            crate::checkpoint::criu::Probe::Works { version, .. } => Some(version),
            _ => None,
        },
        busybox: runtime.sources.busybox.is_file(),
        io_weight,
        io_weight_file,
        online_disk_grow: crate::disk::online_grow_supported(),
        devices_live: crate::cgroups::devices::live_supported(&runtime.cgroups),
        raw_chunks: true,
        user_quota: user_quota.is_ok(),
        notes,
    }
}

fn capacity(root: &Path) -> Capacity {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    let mut probe = root.to_path_buf();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    let disk_free = nix::sys::statvfs::statvfs(&probe)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0);
    Capacity::measured(cpus, memory, disk_free)
}
