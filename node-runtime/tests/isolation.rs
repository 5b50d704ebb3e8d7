//! Isolation: what container root can and cannot reach (capabilities, /proc and /sys, devices,
//! descriptors, mounts), unprivileged (the default) and privileged. User namespaces themselves
//! are tests/userns.rs.

mod support;

use node_runtime::sys::caps::KEPT;
use support::{Node, proc_status};

/// Runs `check` on busybox container `name` created unprivileged (the default), then on one
/// created privileged, each on a node of its own: every isolation property holds in both modes.
fn in_both_modes(name: &str, check: impl Fn(&Node)) {
    for flags in [&[][..], &["--privileged"]] {
        let Some(node) = Node::new() else { return };
        // Captured, and shown with the failure: which mode broke.
        eprintln!("{name} created with {flags:?}");
        node.create(name, flags);
        check(&node);
    }
}

#[test]
fn init_has_the_reduced_bounding_set_and_no_leaked_descriptors() {
    in_both_modes("iso", |node| {
        let pid = node.init_pid("iso");
        let want: u64 = KEPT.iter().map(|(n, _)| 1u64 << n).sum();
        let bnd = u64::from_str_radix(&proc_status(pid, "CapBnd"), 16).unwrap();
        assert_eq!(bnd, want, "bounding set {bnd:x}, expected {want:x}");
        for dropped in [16, 17, 21, 22, 25] {
            assert_eq!(
                bnd & (1 << dropped),
                0,
                "capability {dropped} must be dropped"
            );
        }
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let mut fds = fds;
        fds.sort();
        assert_eq!(fds, ["0", "1", "2"], "init holds only stdio");
        let inside = node.exec(
            "iso",
            &[
                "sh",
                "-c",
                "ls /proc/self/fd | wc -l; grep CapBnd /proc/self/status",
            ],
        );
        assert!(inside.contains(&format!("{want:016x}")), "{inside}");
    });
}

#[test]
fn proc_sys_and_devices_are_fenced() {
    in_both_modes("fence", |node| {
        let denied = |script: &str| {
            let out = node.run(&["exec", "fence", "--", "sh", "-c", script]);
            assert!(
                !out.status.success(),
                "{script} must fail inside the container"
            );
        };
        denied("echo 1 > /proc/sys/vm/drop_caches");
        denied("touch /sys/fleet-probe");
        denied("echo 1 > /sys/kernel/profiling");
        denied("mount -t tmpfs none /mnt");
        denied("mknod /tmp/disk b 7 0 && head -c 1 /tmp/disk");
        denied("ls /dev/sda /dev/loop0 /dev/mem");
        if std::path::Path::new("/proc/keys").exists() {
            assert_eq!(
                node.exec("fence", &["cat", "/proc/keys"]),
                "",
                "/proc/keys masked"
            );
        }
        if std::path::Path::new("/proc/kcore").exists() {
            assert_eq!(
                node.exec("fence", &["sh", "-c", "head -c 16 /proc/kcore | wc -c"])
                    .trim(),
                "0"
            );
        }
        // Network mode none: its own namespace, with only lo, which is up (init brings it up).
        assert_eq!(node.exec("fence", &["ls", "/sys/class/net"]).trim(), "lo");
        let flags = node.exec("fence", &["cat", "/sys/class/net/lo/flags"]);
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(flags & 1, 1, "lo is up: flags {flags:#x}");
        let mounts = node.exec("fence", &["cat", "/proc/mounts"]);
        let sys = mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some("/sys"))
            .unwrap();
        assert!(sys.split(' ').nth(3).unwrap().starts_with("ro"), "{sys}");
        node.exec(
            "fence",
            &[
                "sh",
                "-c",
                "echo ok > /dev/null && head -c 4 /dev/urandom | wc -c",
            ],
        );
        if let Some(dir) = node.runtime().cgroup("fence").controller_dir("devices") {
            let list = std::fs::read_to_string(dir.join("devices.list")).unwrap();
            assert!(
                !list.contains("a *:* rwm"),
                "devices cgroup is an allow-list: {list}"
            );
            assert!(list.contains("c 1:3 rwm"), "{list}");
        }
    });
}

/// Removes the copied binary even when the test fails.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn fleet_node_binary_under_a_shared_host_directory_is_masked_inside() {
    let Some(node) = Node::new() else { return };
    let dir = std::path::Path::new("/usr/local/bin");
    if !dir.is_dir() {
        support::cannot_run("no /usr/local/bin to install a copy of fleet-node into");
        return;
    }
    // A copy of fleet-node inside /usr, which the host template shares read-only.
    let copy = RemoveOnDrop(dir.join(format!("fleet-node-test-{}", std::process::id())));
    std::fs::copy(Node::bin(), &copy.0).unwrap();
    let run = |args: &[&str]| {
        // Another test thread that forks between our copy's open and close hands the child the
        // write descriptor until it execs: exec of the copy then fails with ETXTBSY for a moment.
        for attempt in 0.. {
            match node.command_of(&copy.0, args).output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 50 => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.unwrap(),
            }
        }
        unreachable!()
    };
    let out = run(&["create", "masked", "--template", "host"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside = copy.0.display().to_string();
    let probe = run(&[
        "exec",
        "masked",
        "--",
        "/bin/sh",
        "-c",
        &format!("test -s {inside} || echo hidden"),
    ]);
    assert_eq!(String::from_utf8_lossy(&probe.stdout), "hidden\n");
    let ls = node.exec("masked", &["/bin/sh", "-c", "ls /usr/local/bin | wc -l"]);
    assert!(
        ls.trim().parse::<u32>().unwrap() >= 1,
        "the rest of /usr/local/bin is there"
    );
}
