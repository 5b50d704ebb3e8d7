//! Confinement from inside, as an attacker in the container would try it: the seccomp filter
//! (mode, denied classes, the spec's allow list and nesting), the session keyring, the cgroup
//! namespace, /proc masks and mountinfo. Each test runs privileged and with a user namespace.

mod support;

use support::{Node, proc_status};

/// Both ways a container runs: host root as container root, and a user namespace.
const MODES: [&[&str]; 2] = [&[], &["--user-namespace"]];

/// Makes raw system calls inside the container (busybox cannot): python3's ctypes, from the host
/// template's read-only /usr. Prints `name errno` per call, 0 for success.
const PROBE: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
for spec in sys.argv[1:]:
    name, nr, *args = spec.split(":")
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(int(nr)), *[ctypes.c_long(int(a, 0)) for a in args])
    print(name, 0 if rc >= 0 else ctypes.get_errno())
"#;

fn nr(name: &str) -> u32 {
    fleet_protocol::security::syscall_number(name).unwrap()
}

/// Runs the probe in `name` and returns each call's errno.
fn probe(node: &Node, name: &str, calls: &[(&str, &[&str])]) -> Vec<(String, i32)> {
    let mut argv = vec!["/usr/bin/python3", "-c", PROBE];
    let specs: Vec<String> = calls
        .iter()
        .map(|(call, args)| {
            let mut s = format!("{call}:{}", nr(call));
            for a in *args {
                s.push(':');
                s.push_str(a);
            }
            s
        })
        .collect();
    argv.extend(specs.iter().map(String::as_str));
    node.exec(name, &argv)
        .lines()
        .map(|l| {
            let (n, e) = l.split_once(' ').unwrap();
            (n.to_owned(), e.parse().unwrap())
        })
        .collect()
}

fn create(node: &Node, name: &str, mode: &[&str], extra: &[&str]) {
    let mut args = vec!["create", name, "--template", "host"];
    args.extend_from_slice(mode);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/bin/sleep", "1000"]);
    node.ok(&args);
}

const EPERM: i32 = libc::EPERM;
const ENOSYS: i32 = libc::ENOSYS;
const EFAULT: i32 = libc::EFAULT;

/// The calls of finding 7 and 3, with arguments the kernel would answer with EFAULT or success.
const ATTACKS: &[(&str, &[&str])] = &[
    ("keyctl", &["0", "-3"]),
    ("io_uring_setup", &["1", "0"]),
    ("perf_event_open", &["0", "0", "-1", "-1", "0"]),
    ("bpf", &["0", "0", "0"]),
    ("userfaultfd", &["0"]),
    ("clone3", &["0", "0"]),
    // unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP): finding 3's first step.
    ("unshare", &["0x12020000"]),
];

#[test]
fn seccomp_is_on_in_init_and_exec_and_denies_the_attacks() {
    let Some(node) = Node::new() else { return };
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("sc{i}");
        create(&node, &name, mode, &[]);
        let pid = node.init_pid(&name);
        assert_eq!(proc_status(pid, "Seccomp"), "2", "init is filtered");
        let inside = node.exec(&name, &["grep", "^Seccomp:", "/proc/self/status"]);
        assert_eq!(inside.split_whitespace().nth(1), Some("2"), "{inside}");
        let got = probe(&node, &name, ATTACKS);
        let want: Vec<(String, i32)> = [
            ("keyctl", ENOSYS),
            ("io_uring_setup", EPERM),
            ("perf_event_open", EPERM),
            ("bpf", EPERM),
            ("userfaultfd", EPERM),
            ("clone3", ENOSYS),
            ("unshare", EPERM),
        ]
        .map(|(n, e)| (n.to_owned(), e))
        .into();
        assert_eq!(got, want, "mode {mode:?}");
        // A process started inside inherits the filter (and glibc's fork still works).
        let child = node.exec(&name, &["sh", "-c", "grep ^Seccomp: /proc/self/status"]);
        assert!(child.contains('2'), "{child}");
    }
}

#[test]
fn spec_allows_named_calls_and_nesting() {
    let Some(node) = Node::new() else { return };
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("allow{i}");
        create(
            &node,
            &name,
            mode,
            &[
                "--allow-syscall",
                "io_uring_setup",
                "--deny-syscall",
                "chroot",
            ],
        );
        let got = probe(
            &node,
            &name,
            &[("io_uring_setup", &["1", "0"]), ("chroot", &["0"])],
        );
        assert_eq!(
            got[0],
            ("io_uring_setup".into(), EFAULT),
            "allowed: the kernel answers"
        );
        assert_eq!(got[1], ("chroot".into(), EPERM), "denied by the spec");
        let nested = format!("nest{i}");
        create(&node, &nested, mode, &["--nesting"]);
        let got = probe(&node, &nested, &[("unshare", &["0x10000000"])]);
        assert_eq!(
            got[0],
            ("unshare".into(), 0),
            "nesting allows a user namespace"
        );
    }
}

#[test]
fn unknown_syscall_names_are_refused_before_anything_is_made() {
    let Some(node) = Node::new() else { return };
    let err = node.fails(&[
        "create",
        "typo",
        "--template",
        "busybox",
        "--allow-syscall",
        "io_uring_setpu",
    ]);
    assert!(
        err.contains("unknown system call \"io_uring_setpu\""),
        "{err}"
    );
    let err = node.fails(&[
        "create",
        "noexec",
        "--template",
        "busybox",
        "--deny-syscall",
        "execve",
    ]);
    assert!(err.contains("needs it to start"), "{err}");
    assert!(node.runtime().store.names().unwrap().is_empty());
}
