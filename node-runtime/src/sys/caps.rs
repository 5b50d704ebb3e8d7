//! The capability bounding set: what even the container's root can never regain.

use std::io;

/// Capabilities a container keeps (numbers from linux/capability.h). Everything else, notably
/// CAP_SYS_ADMIN (21), CAP_SYS_MODULE (16), CAP_SYS_RAWIO (17), CAP_SYS_TIME (25),
/// CAP_SYS_BOOT (22), CAP_SYS_PTRACE (19), CAP_MAC_* (32, 33), CAP_SYSLOG (34), CAP_WAKE_ALARM
/// (35), CAP_BLOCK_SUSPEND (36), CAP_AUDIT_CONTROL (30), CAP_BPF (39), CAP_PERFMON (38) and
/// CAP_CHECKPOINT_RESTORE (40), is dropped. docs/node-runtime.md explains the choice.
pub const KEPT: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (10, "CAP_NET_BIND_SERVICE"),
    (12, "CAP_NET_ADMIN"),
    (13, "CAP_NET_RAW"),
    (18, "CAP_SYS_CHROOT"),
    (27, "CAP_MKNOD"),
    (29, "CAP_AUDIT_WRITE"),
    (31, "CAP_SETFCAP"),
];

/// Highest capability number the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drops every capability not in [`KEPT`] from the bounding set of the calling process; after the
/// next execve root's permitted set is this bounding set.
pub fn drop_bounding_set(last: u32) -> io::Result<()> {
    for cap in 0..=last {
        if KEPT.iter().any(|(kept, _)| *kept == cap) {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            // EINVAL: the kernel does not know this capability; nothing to drop.
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
        }
    }
    Ok(())
}
