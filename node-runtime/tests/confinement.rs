//! Confinement from inside, as an attacker in the container would try it: the seccomp filter
//! (mode, denied classes, the spec's allow list and nesting), the session keyring, the cgroup
//! namespace (/proc masks and mountinfo: tests/proc_masks.rs). Each test runs privileged and with
//! a user namespace.

mod support;

use support::{Node, busybox, proc_status};

/// Both ways a container runs: host root as container root, and (the default) a user namespace.
const MODES: [&[&str]; 2] = [&["--privileged"], &[]];

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
        if !mode.is_empty() {
            let err = node.fails(&[
                "create",
                &nested,
                "--template",
                "host",
                "--privileged",
                "--nesting",
            ]);
            assert!(err.contains("nesting needs a user namespace"), "{err}");
            continue;
        }
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
    let err = node.fails(&busybox(
        "typo",
        &["--allow-syscall", "io_uring_setpu"],
        &[],
    ));
    assert!(
        err.contains("unknown system call \"io_uring_setpu\""),
        "{err}"
    );
    let err = node.fails(&busybox("noexec", &["--deny-syscall", "execve"], &[]));
    assert!(err.contains("needs it to start"), "{err}");
    assert!(node.runtime().store.names().unwrap().is_empty());
}

/// Keyring calls from python3 (ctypes). `inside` (init): search the session keyring for the
/// host's key, add one of its own. `launch` (host): join a named session keyring, add a secret,
/// run fleet-node create and then exec with it (as an SSH login would), and search its own
/// session for the container's key afterwards.
const KEYS: &str = r#"
import ctypes, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def errno(rc):
    return 0 if rc >= 0 else ctypes.get_errno()
def search(desc):
    return errno(libc.syscall(ctypes.c_long(250), 10, -3, b"user", desc.encode(), 0))
def add(desc):
    return errno(libc.syscall(ctypes.c_long(248), b"user", desc.encode(), b"x", 1, -3))
what, secret = sys.argv[1], sys.argv[2]
if what == "inside":
    print("host-key", search(secret), "add", add("fleet-inside-key"), flush=True)
    time.sleep(1000)
elif what == "search":
    print("host-key", search(secret), flush=True)
else:
    session, log = sys.argv[3], sys.argv[4]
    rest = sys.argv[5:]
    cut = rest.index("--then")
    assert errno(libc.syscall(ctypes.c_long(250), 1, session.encode())) == 0
    assert add(secret) == 0
    subprocess.run(rest[:cut], check=True, capture_output=True)
    for _ in range(400):
        if os.path.exists(log) and "add" in open(log).read():
            break
        time.sleep(0.025)
    print("init:", open(log).read().strip())
    out = subprocess.run(rest[cut + 1:], check=True, capture_output=True, text=True).stdout
    print("exec:", out.strip())
    print("host: host-key", search(secret), "inside-key", search("fleet-inside-key"))
"#;

#[test]
fn keyrings_of_the_host_and_of_the_container_do_not_meet() {
    let Some(node) = Node::new() else { return };
    let session = format!("fleet-test-{}", std::process::id());
    let secret = format!("fleet-host-secret-{}", std::process::id());
    let enokey = libc::ENOKEY;
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("keys{i}");
        let log = node.container_dir(&name).join("console.log");
        let fleet_node = |args: &[&str]| -> Vec<String> {
            let mut argv: Vec<String> = vec![Node::bin().into(), "--root".into()];
            argv.push(node.root.path().display().to_string());
            argv.extend(["--cgroup-parent".into(), node.parent.clone()]);
            argv.extend(args.iter().map(|s| s.to_string()));
            argv
        };
        let mut create = vec!["create", &name, "--template", "host"];
        create.extend_from_slice(mode);
        for call in ["keyctl", "add_key", "request_key"] {
            create.extend(["--allow-syscall", call]);
        }
        create.extend(["--", "/usr/bin/python3", "-c", KEYS, "inside", &secret]);
        let exec = [
            "exec",
            &name,
            "--",
            "/usr/bin/python3",
            "-c",
            KEYS,
            "search",
            &secret,
        ];
        let out = std::process::Command::new("/usr/bin/python3")
            .args(["-c", KEYS, "launch", &secret, &session])
            .arg(&log)
            .args(fleet_node(&create))
            .arg("--then")
            .args(fleet_node(&exec))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Init and exec have session keyrings of their own: the secret of the session fleet-node
        // ran in is not found inside, and what init adds does not appear in that session.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!(
                "init: host-key {enokey} add 0\nexec: host-key {enokey}\n\
                 host: host-key 0 inside-key {enokey}"
            ),
            "mode {mode:?}"
        );
    }
}

#[test]
fn cgroups_inside_are_read_only_and_show_only_the_container() {
    let Some(node) = Node::new() else { return };
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("cg{i}");
        let mut create = vec!["create", name.as_str(), "--template", "busybox"];
        create.extend_from_slice(mode);
        node.ok(&create);
        node.ok(&["set", &name, "--memory", "64Mi", "--pids", "100"]);
        let cgroup = node.runtime().cgroup(&name);
        let host_file = |controller: &str, file: &str| {
            cgroup.controller_dir(controller).map(|d| {
                std::fs::read_to_string(d.join(file))
                    .unwrap()
                    .trim()
                    .to_owned()
            })
        };
        let v1 = cgroup.controller_dir("memory").is_some()
            && !std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .contains(" /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2");
        let (limit, pids) = if v1 {
            ("memory/memory.limit_in_bytes", "pids/pids.max")
        } else {
            ("memory.max", "pids.max")
        };
        let mem_file = if v1 {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        // Inside, the hierarchy's root is the container's own cgroup, with its own limits.
        assert_eq!(
            node.exec(&name, &["cat", &format!("/sys/fs/cgroup/{limit}")])
                .trim(),
            "67108864"
        );
        assert_eq!(
            node.exec(&name, &["cat", &format!("/sys/fs/cgroup/{pids}")])
                .trim(),
            "100"
        );
        let cg = node.exec(&name, &["cat", "/proc/self/cgroup"]);
        assert!(
            cg.lines().all(|l| l.ends_with(":/")),
            "every hierarchy shows the container's cgroup as its root: {cg}"
        );
        let listing = node.exec(&name, &["ls", "-R", "/sys/fs/cgroup"]);
        assert!(
            !listing.contains(&node.parent),
            "no parent or sibling cgroups: {listing}"
        );
        // Finding 3, from inside: writes, new cgroups, remounts and fresh cgroup mounts fail.
        for attack in [
            format!("echo 134217728 > /sys/fs/cgroup/{limit}"),
            format!("echo max > /sys/fs/cgroup/{pids}"),
            format!(
                "mkdir /sys/fs/cgroup/{}/escape",
                limit.split('/').next().unwrap()
            ),
            "mount -o remount,rw /sys/fs/cgroup".to_owned(),
            "mkdir -p /tmp/cg && mount -t cgroup -o memory none /tmp/cg".to_owned(),
            "mkdir -p /tmp/cg2 && mount -t cgroup2 none /tmp/cg2".to_owned(),
            "mkdir -p /tmp/sd && mount -t cgroup -o none,name=systemd none /tmp/sd".to_owned(),
            "unshare -U -m -C sh -c 'mount -t cgroup -o memory none /tmp'".to_owned(),
            // The release_agent of a v1 hierarchy runs as host root: only its root cgroup has
            // one, and the container sees its own cgroup as the root.
            format!(
                "echo /tmp/x > /sys/fs/cgroup/{}/release_agent",
                limit.split('/').next().unwrap()
            ),
        ] {
            let out = node.run(&["exec", &name, "--", "sh", "-c", &attack]);
            assert!(!out.status.success(), "{attack} must fail (mode {mode:?})");
        }
        assert_eq!(
            node.exec(&name, &["find", "/sys/fs/cgroup", "-name", "release_agent"]),
            "",
            "no release_agent inside"
        );
        let err = node.run(&[
            "exec",
            &name,
            "--",
            "sh",
            "-c",
            &format!("echo 1 > /sys/fs/cgroup/{limit}"),
        ]);
        let err = String::from_utf8_lossy(&err.stderr);
        assert!(err.contains("Read-only file system"), "{err}");
        // From the host: the limits still hold what the spec set.
        assert_eq!(host_file("memory", mem_file).as_deref(), Some("67108864"));
        assert_eq!(host_file("pids", "pids.max").as_deref(), Some("100"));
    }
}

#[test]
fn nesting_is_refused_for_a_privileged_container_and_nothing_is_made() {
    let Some(node) = Node::new() else { return };
    let err = node.fails(&busybox("np", &["--privileged", "--nesting"], &[]));
    assert!(
        err.contains("security.nesting needs a user namespace"),
        "{err}"
    );
    assert!(!node.run(&["status", "np"]).status.success());
    assert!(!node.container_dir("np").exists());
}
