//! The console log as an attack on the host: a container writing without end to its stdout
//! must not fill the store's filesystem (past its disk quota). The node keeps the log within its
//! bound (`--console-log-max`, 4 MiB by default) in two files, the latest lines kept, and the
//! keeper that does so is out of the container's reach and gone with it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Node, busybox};

/// The node's default bound (`container/console.rs`).
const DEFAULT_MAX: u64 = 4 << 20;

/// Sizes of console.log and console.log.1 (0 when missing).
fn sizes(dir: &Path) -> (u64, u64) {
    let len = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    (len("console.log"), len("console.log.1"))
}

/// Polls `logs --tail 1` until it is `last`, checking the bound at every look.
fn wait_for_last_line(node: &Node, name: &str, last: &str, max: u64) {
    let dir = node.container_dir(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (new, old) = sizes(&dir);
        assert!(new <= max / 2 && old <= max / 2, "{new} + {old} over {max}");
        let tail = node.ok(&["logs", name, "--tail", "1"]);
        if tail == format!("{last}\n") {
            return;
        }
        assert!(Instant::now() < deadline, "no {last:?} yet: {tail:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The keeper's pid: the process of the container's cgroup outside its pid namespace.
fn keeper(node: &Node, name: &str) -> Option<i32> {
    let procs = std::fs::read_to_string(node.cgroup_dirs(name)[0].join("cgroup.procs")).ok()?;
    procs
        .lines()
        .filter_map(|l| l.parse().ok())
        .find(|pid: &i32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with(format!("fleet-console {name}").as_bytes()))
        })
}

#[test]
fn a_container_writing_without_end_leaves_the_log_within_its_bound_and_its_latest_lines() {
    let Some(node) = Node::new() else { return };
    // 40 MiB of whole lines, ten times the bound, then a last line; the container runs on.
    node.ok(&busybox(
        "loud",
        &[],
        &[
            "sh",
            "-c",
            "yes 0123456789abcdef | head -c 41943046; echo the-end; exec sleep 1000",
        ],
    ));
    wait_for_last_line(&node, "loud", "the-end", DEFAULT_MAX);
    let dir = node.container_dir("loud");
    let (new, old) = sizes(&dir);
    for name in ["console.log", "console.log.1"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is root's alone");
    }
    assert!(
        new + old <= DEFAULT_MAX && old > 0,
        "console.log {new} + console.log.1 {old} bytes"
    );
    // The latest lines, whole, from both files in order.
    let tail = node.ok(&["logs", "loud", "--tail", "3"]);
    assert_eq!(tail, "0123456789abcdef\n0123456789abcdef\nthe-end\n");
    let all = node.ok(&["logs", "loud"]);
    assert_eq!(all.len() as u64, new + old);
    assert!(all.starts_with("0123456789abcdef\n"), "{:?}", &all[..40]);
    let lines = all.lines().count() as u64;
    let spanning = node.ok(&["logs", "loud", "--tail", &(lines - 1).to_string()]);
    assert_eq!(spanning.lines().count() as u64, lines - 1);
    assert!(spanning.ends_with("the-end\n"));
    // The container was never held up by its log and still runs.
    assert_eq!(node.exec("loud", &["echo", "alive"]), "alive\n");

    // The keeper: host root, in the container's cgroup, invisible from inside, which cannot
    // signal it either; gone once the container stops.
    let pid = keeper(&node, "loud").expect("a console keeper in the container's cgroup");
    let inside = node.run(&[
        "exec",
        "loud",
        "--",
        "sh",
        "-c",
        "cat /proc/[0-9]*/cmdline | grep -c fleet-consol[e]",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout),
        "0\n",
        "seen inside"
    );
    let kill = node.run(&["exec", "loud", "--", "kill", "-9", &pid.to_string()]);
    assert!(
        !kill.status.success(),
        "container root signalled the keeper"
    );
    assert!(crate::support::alive(pid));
    node.ok(&["stop", "loud"]);
    assert!(
        !crate::support::alive(pid),
        "the keeper outlived its container"
    );
    for dir in node.cgroup_dirs("loud") {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        assert!(procs.trim().is_empty(), "{}: {procs}", dir.display());
    }
    assert!(node.ok(&["logs", "loud", "--tail", "1"]) == "the-end\n");
}

#[test]
fn the_bound_is_a_node_setting_and_an_old_unbounded_log_is_cut_at_the_next_start() {
    let Some(node) = Node::new() else { return };
    let max = 64 << 10;
    node.ok(&[
        "--console-log-max",
        "64Ki",
        "create",
        "small",
        "--template",
        "busybox",
        "--",
        "sh",
        "-c",
        // The flood at the first start only: the second prints its last line alone.
        "[ -e /flooded ] || { yes abc | head -c 1048576; touch /flooded; }; echo last; \
         exec sleep 1000",
    ]);
    wait_for_last_line(&node, "small", "last", max);
    let (new, old) = sizes(&node.container_dir("small"));
    assert!(new + old <= max && old > 0, "{new} + {old}");
    node.ok(&["stop", "small"]);

    // A log made before the bound existed: 10 MiB, ending in a line to keep.
    let log = node.container_dir("small").join("console.log");
    let mut old_log = "x".repeat(79) + "\n";
    old_log = old_log.repeat(10 << 20 >> 7);
    old_log.push_str("before the bound\n");
    std::fs::write(&log, old_log).unwrap();
    node.ok_with_env(
        &["start", "small"],
        &[("FLEET_NODE_CONSOLE_LOG_MAX", "64Ki")],
    );
    wait_for_last_line(&node, "small", "last", max);
    let (new, old) = sizes(&node.container_dir("small"));
    assert!(new + old <= max, "{new} + {old}");
    let all = node.ok(&["logs", "small"]);
    assert!(
        all.contains("before the bound\n"),
        "the old log's last line was dropped"
    );

    // Bad settings are refused, naming what would do.
    let err = node.fails(&["--console-log-max", "100", "start", "small"]);
    assert!(err.contains("at least 8Ki"), "{err}");
    let out = node
        .command(&["list"])
        .env("FLEET_NODE_CONSOLE_LOG_MAX", "lots")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("FLEET_NODE_CONSOLE_LOG_MAX"),
        "{err}"
    );
}
