//! The default seccomp filter as data: what a container's processes may not call, why, and with
//! which error. It follows what Docker's default profile denies a container without
//! CAP_SYS_ADMIN, written as a deny list (like LXC's) because a system container runs a whole
//! distribution and the kernel keeps adding harmless calls. docs/security.md explains each class.

/// errno for a denied call: EPERM unless a caller is known to fall back on ENOSYS.
pub const EPERM: u32 = libc::EPERM as u32;
/// "Not implemented": glibc falls back from clone3 to clone, and runc and systemd carry on
/// without keyrings, on this error.
pub const ENOSYS: u32 = libc::ENOSYS as u32;

/// When a listed call is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every call.
    Always,
    /// When the bits of `mask` in argument `arg` are all set (a flag is asked for).
    FlagSet {
        /// Argument index.
        arg: u8,
        /// The flag bits.
        mask: u64,
    },
    /// When the 32-bit argument `arg` is none of `values`.
    NotOneOf {
        /// Argument index.
        arg: u8,
        /// The values allowed.
        values: &'static [u64],
    },
    /// When the argument `arg` equals `value`.
    Equals {
        /// Argument index.
        arg: u8,
        /// The value denied.
        value: u64,
    },
}

/// One entry of the default filter.
#[derive(Debug, Clone, Copy)]
pub struct Deny {
    /// System call name (the protocol's x86_64 table).
    pub name: &'static str,
    /// The condition under which it is denied.
    pub when: When,
    /// The errno returned.
    pub errno: u32,
    /// Allowed again when the spec sets `security.nesting: true`.
    pub nesting: bool,
}

const fn always(name: &'static str) -> Deny {
    Deny {
        name,
        when: When::Always,
        errno: EPERM,
        nesting: false,
    }
}

const fn nesting(name: &'static str) -> Deny {
    Deny {
        nesting: true,
        ..always(name)
    }
}

const fn enosys(name: &'static str) -> Deny {
    Deny {
        errno: ENOSYS,
        ..always(name)
    }
}

const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

/// personality() values Docker allows: PER_LINUX, PER_LINUX32, ADDR_NO_RANDOMIZE (alone and
/// with PER_LINUX32) and the 0xffffffff query. Anything else (READ_IMPLIES_EXEC, ...) weakens
/// the address-space protections the kernel gives the process.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// AF_VSOCK: the host's vsock services (a hypervisor's agent) are not the container's to reach.
const AF_VSOCK: u64 = libc::AF_VSOCK as u64;

/// The default filter.
pub const DEFAULT: &[Deny] = &[
    // Keyrings are not namespaced: a key added inside could be read by the host (finding 4).
    enosys("keyctl"),
    enosys("add_key"),
    enosys("request_key"),
    // Replacing or changing the kernel.
    always("kexec_load"),
    always("kexec_file_load"),
    always("init_module"),
    always("finit_module"),
    always("delete_module"),
    always("reboot"),
    always("swapon"),
    always("swapoff"),
    always("acct"),
    always("iopl"),
    always("ioperm"),
    always("create_module"),
    always("get_kernel_syms"),
    always("query_module"),
    always("uselib"),
    always("_sysctl"),
    always("nfsservctl"),
    always("lookup_dcookie"),
    always("quotactl"),
    always("quotactl_fd"),
    always("syslog"),
    always("vhangup"),
    // The clock is the host's.
    always("settimeofday"),
    always("clock_settime"),
    always("clock_adjtime"),
    // Large kernel attack surface, rarely needed inside (allow by name when it is).
    always("bpf"),
    always("perf_event_open"),
    always("userfaultfd"),
    always("io_uring_setup"),
    always("io_uring_enter"),
    always("io_uring_register"),
    always("fanotify_init"),
    always("open_by_handle_at"),
    // Reaching into other processes beyond ptrace (which stays allowed, as in Docker since the
    // kernel checks seccomp after ptrace from 4.8 on).
    always("kcmp"),
    always("pidfd_getfd"),
    always("process_madvise"),
    always("migrate_pages"),
    always("move_pages"),
    Deny {
        when: When::NotOneOf {
            arg: 0,
            values: PERSONALITIES,
        },
        ..always("personality")
    },
    Deny {
        when: When::Equals {
            arg: 0,
            value: AF_VSOCK,
        },
        ..always("socket")
    },
    // New user namespaces, mounts and namespace moves: how container root would regain the
    // capabilities it was stripped of (finding 3's unshare + mount cgroup). `nesting` allows them.
    Deny {
        when: When::FlagSet {
            arg: 0,
            mask: CLONE_NEWUSER,
        },
        ..nesting("unshare")
    },
    Deny {
        when: When::FlagSet {
            arg: 0,
            mask: CLONE_NEWUSER,
        },
        ..nesting("clone")
    },
    // clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes glibc fall
    // back to clone, whose flags are checked above.
    Deny {
        errno: ENOSYS,
        ..nesting("clone3")
    },
    nesting("setns"),
    nesting("mount"),
    nesting("umount2"),
    nesting("pivot_root"),
    nesting("fsopen"),
    nesting("fsconfig"),
    nesting("fsmount"),
    nesting("fspick"),
    nesting("move_mount"),
    nesting("open_tree"),
    nesting("open_tree_attr"),
    nesting("mount_setattr"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_a_known_system_call() {
        for deny in DEFAULT {
            assert!(
                fleet_protocol::security::syscall_number(deny.name).is_some(),
                "{} is not in the protocol's table",
                deny.name
            );
            assert!(
                !fleet_protocol::security::NEEDED_TO_START.contains(&deny.name),
                "{}",
                deny.name
            );
        }
    }
}
