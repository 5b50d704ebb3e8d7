//! The parts of /proc and /sys a container must not read or write: masked files and directories
//! (runc's and crun's default `maskedPaths`, Docker's additions, and the kernel-memory and
//! physical-page files they leave readable to a privileged container) and read-only subtrees.
//!
//! The masks come from the container's own mount tree, not from the host: a small tmpfs at
//! [`SOURCE`] inside the container's /dev, made in its mount namespace, holding one empty file
//! and one empty directory, then made read-only (the superblock, so no other mount of it can be
//! written). Each masked file is a read-only bind of that empty file, each masked directory a
//! read-only bind of the empty directory. The tmpfs stays mounted at [`SOURCE`], so every mask is
//! a bind of a filesystem whose root is mounted in the same namespace (a checkpoint with CRIU can
//! find it; binds of the host's /dev/null had no such root there). Container root cannot undo a
//! mask: it has no CAP_SYS_ADMIN, the seccomp filter denies `umount2` and `mount`, and in a
//! nested namespace (`security.nesting`) the kernel locks mounts inherited from a more
//! privileged one.

use std::io;

use crate::sys::beneath::{Root, Target};
use crate::sys::mount::{self, Flags};

/// Where the mask source is mounted, relative to the container's root.
pub const SOURCE: &str = "dev/.fleet-mask";

/// Files hidden behind the empty file: they read as empty and cannot be written. Each one is
/// masked where the kernel has it (kcore, sysrq-trigger, kallsyms and others depend on its
/// configuration).
pub const MASKED_FILES: &[&str] = &[
    // runc and crun defaults: kernel memory, key material, timers and scheduler state.
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    // Docker's default list adds it (interrupt counts per CPU are a side channel).
    "proc/interrupts",
    // runc and crun make it read-only; masked, it cannot be read either.
    "proc/sysrq-trigger",
    // Other users' keys (counts and quotas of every uid).
    "proc/key-users",
    // Kernel symbol addresses (zeroed without CAP_SYSLOG, the names still map the kernel).
    "proc/kallsyms",
    // The host kernel's build configuration: which exploits apply (issue 10, finding 10).
    "proc/config.gz",
    // Kernel heap layout, readable by privileged container root (finding 10).
    "proc/slabinfo",
    "proc/vmallocinfo",
    "proc/pagetypeinfo",
    // Physical page flags, counts and cgroups: readable by privileged container root, the
    // Rowhammer class of attacks maps physical memory with them.
    "proc/kpageflags",
    "proc/kpagecount",
    "proc/kpagecgroup",
];

/// Directories hidden behind the empty directory (firmware tables, hardware, power meters).
pub const MASKED_DIRS: &[&str] = &[
    "proc/acpi",
    "proc/asound",
    "proc/scsi",
    "sys/firmware",
    // Docker's default list: RAPL energy counters (the Platypus side channel, CVE-2020-8694).
    "sys/devices/virtual/powercap",
];

/// /proc subtrees bound read-only (kernel tunables, buses, filesystems, interrupt routing).
pub const READONLY: &[&str] = &["proc/sys", "proc/bus", "proc/fs", "proc/irq"];

/// The mask source's flags.
const NO_EXEC: Flags = Flags::MS_NOSUID
    .union(Flags::MS_NODEV)
    .union(Flags::MS_NOEXEC);

/// The mask source mounted inside a container's tree: its empty file, empty directory and the
/// builtin init's mount point, held as descriptors.
#[derive(Debug)]
pub struct Source {
    file: Target,
    dir: Target,
    init: Target,
}

impl Source {
    /// Mounts the source at [`SOURCE`] of the tree (after the container's /dev is mounted): an
    /// empty 0444 file `null`, an empty 0555 directory `empty` and a 0555 mount point `init`
    /// (for the builtin init's directory, `rootfs::InitLayer`) on a tmpfs of at most one block
    /// and five inodes, then made read-only.
    pub fn mount(root: &Root) -> Result<Source, String> {
        let named = |e: crate::sys::beneath::TargetError| e.to_string();
        let at = root.dir(SOURCE, 0o555).map_err(named)?;
        mount::mount_fs_at(
            "tmpfs",
            &at,
            "tmpfs",
            NO_EXEC,
            Some("mode=0555,nr_blocks=1,nr_inodes=5"),
        )
        .map_err(super::at_err("mount the mask source on", &at))?;
        let file = root.file(&format!("{SOURCE}/null"), 0o444).map_err(named)?;
        let dir = root.dir(&format!("{SOURCE}/empty"), 0o555).map_err(named)?;
        let init = root.dir(&format!("{SOURCE}/init"), 0o555).map_err(named)?;
        // Found again: the tmpfs now, not the directory it covers.
        let at = root.dir(SOURCE, 0o555).map_err(named)?;
        mount::remount(&at, NO_EXEC | Flags::MS_RDONLY)
            .map_err(super::at_err("make read-only", &at))?;
        Ok(Source { file, dir, init })
    }

    /// The mount point of the builtin init's directory.
    pub fn init_dir(&self) -> &Target {
        &self.init
    }

    /// Hides `target` behind the empty file or directory, as it is a file or a directory.
    pub fn hide(&self, target: &Target) -> io::Result<()> {
        let from = if target.is_dir() {
            &self.dir
        } else {
            &self.file
        };
        mount::bind(&from.fd_path(), target, true, false)
    }
}

/// Masks [`MASKED_FILES`] and [`MASKED_DIRS`] that exist in the tree and makes [`READONLY`]
/// read-only (after /proc and /sys are mounted).
pub fn apply(root: &Root, source: &Source) -> Result<(), String> {
    for rel in MASKED_FILES.iter().chain(MASKED_DIRS) {
        if let Some(target) = root.find(rel).map_err(|e| e.to_string())? {
            source
                .hide(&target)
                .map_err(super::at_err("mask", &target))?;
        }
    }
    for rel in READONLY {
        if let Some(target) = root.find(rel).map_err(|e| e.to_string())? {
            mount::bind(&target.fd_path(), &target, true, true)
                .map_err(super::at_err("make read-only", &target))?;
        }
    }
    Ok(())
}
