//! The default filter against the real kernel: a forked child of the test (root, full
//! capabilities) makes each denied call with arguments the kernel would reject with some other
//! error, once without and once with the filter, so the errno seen can only be the filter's.

use std::io::Read;
use std::os::fd::AsRawFd;

use fleet_protocol::SecuritySpec;
use fleet_protocol::security::syscall_number;

use crate::seccomp::Filter;
use crate::sys::process;

const BAD: i64 = 1; // an address the kernel cannot read: EFAULT where it is looked at
const EPERM: i32 = libc::EPERM;
const ENOSYS: i32 = libc::ENOSYS;
const NEWUSER: i64 = libc::CLONE_NEWUSER as i64;

/// (name, arguments, errno with the default filter). Calls that change the child come last.
const CALLS: &[(&str, [i64; 6], i32)] = &[
    ("keyctl", [0xffff, 0, 0, 0, 0, 0], ENOSYS),
    ("add_key", [BAD, BAD, 0, 0, 0, 0], ENOSYS),
    ("request_key", [BAD, BAD, 0, 0, 0, 0], ENOSYS),
    ("kexec_load", [0, 0, 0, 0xdead_0000, 0, 0], EPERM),
    ("kexec_file_load", [-1, -1, 0, 0, 0xdead_0000, 0], EPERM),
    ("init_module", [BAD, 0, BAD, 0, 0, 0], EPERM),
    ("finit_module", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("delete_module", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("reboot", [0, 0, 0, 0, 0, 0], EPERM),
    ("swapon", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("swapoff", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("acct", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("settimeofday", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("clock_settime", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("clock_adjtime", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("syslog", [-1, 0, 0, 0, 0, 0], EPERM),
    ("iopl", [4, 0, 0, 0, 0, 0], EPERM),
    ("bpf", [-1, 0, 0, 0, 0, 0], EPERM),
    ("perf_event_open", [BAD, 0, -1, -1, 0, 0], EPERM),
    ("userfaultfd", [0xdead, 0, 0, 0, 0, 0], EPERM),
    ("io_uring_setup", [0, BAD, 0, 0, 0, 0], EPERM),
    ("io_uring_enter", [-1, 0, 0, 0, 0, 0], EPERM),
    ("io_uring_register", [-1, 0, 0, 0, 0, 0], EPERM),
    ("open_by_handle_at", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("fanotify_init", [0xffff_ffff, 0, 0, 0, 0, 0], EPERM),
    ("pidfd_getfd", [-1, 0, 0, 0, 0, 0], EPERM),
    (
        "socket",
        [libc::AF_VSOCK as i64, libc::SOCK_STREAM as i64, 0, 0, 0, 0],
        EPERM,
    ),
    ("mount", [BAD, BAD, BAD, 0, 0, 0], EPERM),
    ("umount2", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("pivot_root", [BAD, BAD, 0, 0, 0, 0], EPERM),
    ("setns", [-1, 0, 0, 0, 0, 0], EPERM),
    ("fsopen", [BAD, 0, 0, 0, 0, 0], EPERM),
    ("fsconfig", [-1, 0, 0, 0, 0, 0], EPERM),
    ("fsmount", [-1, 0, 0, 0, 0, 0], EPERM),
    ("fspick", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("move_mount", [-1, BAD, -1, BAD, 0, 0], EPERM),
    ("open_tree", [-1, BAD, 0, 0, 0, 0], EPERM),
    ("mount_setattr", [-1, BAD, 0, 0, 0, 0], EPERM),
    (
        "clone",
        [NEWUSER | libc::CLONE_FS as i64, 0, 0, 0, 0, 0],
        EPERM,
    ),
    ("clone3", [0, 0, 0, 0, 0, 0], ENOSYS),
    ("personality", [0x040_0000, 0, 0, 0, 0, 0], EPERM),
    ("unshare", [NEWUSER, 0, 0, 0, 0, 0], EPERM),
];

/// Calls allowed by the default filter: (name, arguments).
const ALLOWED: &[(&str, [i64; 6])] = &[
    ("getpid", [0; 6]),
    ("personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
    // CLONE_SIGHAND without CLONE_VM: the kernel's EINVAL, not the filter's EPERM.
    ("clone", [libc::CLONE_SIGHAND as i64, 0, 0, 0, 0, 0]),
];

fn raw(nr: i64, a: &[i64; 6]) -> i32 {
    // SAFETY: each call's arguments are integers or addresses the kernel validates (and rejects)
    // itself; none is dereferenced by this process.
    let rc = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// The errno of each call made in a forked child, with `filter` installed first when given.
fn errnos(filter: Option<&Filter>, calls: &[(i64, [i64; 6])]) -> Vec<i32> {
    let (rd, wr) = nix::unistd::pipe().unwrap();
    match process::fork().unwrap() {
        process::ForkResult::Child => {
            drop(rd);
            if let Some(f) = filter
                && f.install().is_err()
            {
                process::exit_now(99);
            }
            let mut out = Vec::with_capacity(calls.len() * 4);
            for (nr, args) in calls {
                out.extend_from_slice(&raw(*nr, args).to_le_bytes());
            }
            process::write_all_raw(wr.as_raw_fd(), &out);
            process::exit_now(0)
        }
        process::ForkResult::Parent { child } => {
            drop(wr);
            let mut buf = Vec::new();
            std::fs::File::from(rd).read_to_end(&mut buf).unwrap();
            assert_eq!(process::wait_child(child.as_raw()).unwrap(), 0);
            buf.chunks(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        }
    }
}

fn numbered<'a>(calls: impl Iterator<Item = (&'a str, [i64; 6])>) -> Vec<(i64, [i64; 6])> {
    calls
        .map(|(name, args)| (i64::from(syscall_number(name).unwrap()), args))
        .collect()
}

#[test]
fn default_filter_denies_each_class_and_the_errno_is_the_filters() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the seccomp test needs root in CI"
        );
        eprintln!("skipping: not root");
        return;
    }
    let filter = Filter::build(&SecuritySpec::default()).unwrap();
    let calls = numbered(CALLS.iter().map(|(n, a, _)| (*n, *a)));
    let without = errnos(None, &calls);
    let with = errnos(Some(&filter), &calls);
    assert_eq!(with.len(), CALLS.len());
    for (i, (name, _, want)) in CALLS.iter().enumerate() {
        assert_eq!(
            with[i], *want,
            "{name}: errno {} with the filter, want {want}",
            with[i]
        );
        assert_ne!(
            without[i], *want,
            "{name}: the kernel alone already answers {want}, so the test proves nothing"
        );
    }
    let allowed = numbered(ALLOWED.iter().copied());
    let got = errnos(Some(&filter), &allowed);
    assert_eq!(got[0], 0, "getpid");
    assert_eq!(got[1], 0, "personality query");
    assert_ne!(
        got[2], EPERM,
        "clone without CLONE_NEWUSER reaches the kernel"
    );
}

#[test]
fn x32_numbers_do_not_bypass_the_deny_list() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let filter = Filter::build(&SecuritySpec::default()).unwrap();
    let keyctl = i64::from(syscall_number("keyctl").unwrap()) | 0x4000_0000;
    assert_eq!(
        errnos(Some(&filter), &[(keyctl, [0xffff, 0, 0, 0, 0, 0])]),
        [ENOSYS]
    );
}
