//! Live limits end to end, through the real `fleet-node` binary: `set` changes a running
//! container's cgroup files without touching its init, limit hits raise the beancounters'
//! failcnt, and the container's own disk image holds its space and inode limits inside.
//! The cgroup file names checked are cgroup v1's, as on the machines this suite runs on
//! (docs/limits.md says what was run where).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::{Node, busybox};

fn file(node: &Node, name: &str, controller: &str, file: &str) -> String {
    let dir: PathBuf = node
        .runtime()
        .cgroup(name)
        .controller_dir(controller)
        .unwrap_or_else(|| panic!("no {controller} controller"));
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {file}: {e}"))
        .trim()
        .to_owned()
}

fn counters(node: &Node, name: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&node.ok(&["counters", name, "-o", "json"])).expect("counters json");
    all[0]["counters"].clone()
}

fn row(counters: &serde_json::Value, resource: &str) -> serde_json::Value {
    counters
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == resource)
        .unwrap_or_else(|| panic!("no {resource} row in {counters}"))
        .clone()
}

/// Makes files in a new directory `dir` of container `name` until its disk refuses one: what
/// it printed (stderr, then stdout) and how many files it made.
fn fill_inodes(node: &Node, name: &str, dir: &str) -> (String, u64) {
    let script =
        format!("mkdir {dir} && i=0; while touch {dir}/f$i; do i=$((i+1)); done; echo made $i");
    let out = node.run(&["exec", name, "--", "sh", "-c", &script]);
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let made = said
        .split("made ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    (said, made)
}

fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

#[test]
fn set_changes_limits_live_and_keeps_the_init_pid() {
    let Some(node) = Node::new() else { return };
    let pid = node.create_running("lim");
    node.ok(&[
        "set",
        "lim",
        "--memory",
        "256Mi",
        "--cpu-units",
        "2000",
        "--cpu-limit",
        "50%",
        "--pids",
        "64",
        "--cpus",
        "0",
    ]);
    assert_eq!(node.init_pid("lim"), pid, "init must survive a live update");
    assert_eq!(
        file(&node, "lim", "memory", "memory.limit_in_bytes"),
        "268435456"
    );
    assert_eq!(file(&node, "lim", "cpu", "cpu.shares"), "2048");
    assert_eq!(file(&node, "lim", "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(file(&node, "lim", "pids", "pids.max"), "64");
    assert_eq!(file(&node, "lim", "cpuset", "cpuset.cpus"), "0");
    let live = &node.status("lim")["live"];
    assert_eq!(live["memory"], 268435456u64, "{live}");
    assert_eq!(live["cpu_units"], 2000, "{live}");
    assert_eq!(live["pids"], 64, "{live}");

    node.ok(&[
        "set",
        "lim",
        "--memory",
        "none",
        "--pids",
        "none",
        "--cpu-limit",
        "none",
    ]);
    assert_eq!(node.init_pid("lim"), pid);
    // No limit in the spec: the default ceiling, not unlimited.
    assert_eq!(
        file(&node, "lim", "pids", "pids.max"),
        fleet_protocol::DEFAULT_PIDS.to_string()
    );
    assert_eq!(file(&node, "lim", "cpu", "cpu.cfs_quota_us"), "-1");

    // Bad values: a clear error with the valid range, and the files as they were.
    let err = node.fails(&["set", "lim", "--cpu-units", "5"]);
    assert!(
        err.contains("cpu.units") && err.contains("8..=500000"),
        "{err}"
    );
    let err = node.fails(&["set", "lim", "--cpus", "0-63"]);
    assert!(
        err.contains("cpu.cpus") && err.contains("not on this host"),
        "{err}"
    );
    assert_eq!(file(&node, "lim", "cpu", "cpu.shares"), "2048");
    assert_eq!(file(&node, "lim", "cpuset", "cpuset.cpus"), "0");
    assert_eq!(node.init_pid("lim"), pid);
    // The stored spec is unchanged too, so the next `set` starts from the good values.
    let stored = &node.status("lim")["spec"]["resources"];
    assert_eq!(stored["cpu_units"], 2000, "{stored}");
    assert_eq!(stored["cpus"], "0", "{stored}");
    let err = node.fails(&["set", "lim", "--disk-space", "1Mi", "--restart"]);
    assert!(err.contains("disk.space") && err.contains("16Mi"), "{err}");
    assert!(node.status("lim")["spec"]["resources"]["disk_space"].is_null());
}

#[test]
fn cpu_limit_throttles_a_busy_container() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox("busy", &[], &["sh", "-c", "while :; do :; done"]));
    node.ok(&["set", "busy", "--cpu-limit", "20%"]);
    let throttled = wait_until(Duration::from_secs(5), || {
        let stat = file(&node, "busy", "cpu", "cpu.stat");
        stat.lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 2)
    });
    assert!(
        throttled,
        "cpu.stat: {}",
        file(&node, "busy", "cpu", "cpu.stat")
    );
    let cpu = row(&counters(&node, "busy"), "cpu");
    assert!(cpu["failcnt"].as_u64().unwrap() > 0, "{cpu}");
    assert_eq!(cpu["limit"], 20_000, "{cpu}");
}

#[test]
fn memory_and_pids_limit_hits_inside_raise_failcnt() {
    let Some(node) = Node::new() else { return };
    node.create("hog", &[]);
    node.ok(&["set", "hog", "--memory", "32Mi", "--pids", "20"]);
    let out = node.run(&["exec", "hog", "--", "sh", "-c", "tail /dev/zero"]);
    assert!(!out.status.success(), "the memory hog must be stopped");
    let memory = row(&counters(&node, "hog"), "memory");
    assert!(memory["failcnt"].as_u64().unwrap() > 0, "{memory}");
    assert_eq!(memory["limit"], 32u64 << 20);

    let out = node.run(&[
        "exec",
        "hog",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 60 ]; do sleep 2 & i=$((i+1)); done; wait",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pids = row(&counters(&node, "hog"), "pids");
    assert!(pids["failcnt"].as_u64().unwrap() > 0, "{pids} {stderr}");
    assert_eq!(pids["limit"], 20);
    assert!(node.status("hog")["state"] == "running");
}

#[test]
fn disk_space_and_inodes_hold_inside_and_growing_lets_the_write_succeed() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    node.create("d", &["--stopped"]);
    node.ok(&["set", "d", "--disk-space", "16Mi", "--disk-inodes", "64"]);
    node.ok(&["start", "d"]);
    let pid = node.init_pid("d");
    let dd = [
        "exec",
        "d",
        "--",
        "dd",
        "if=/dev/zero",
        "of=/big",
        "bs=1M",
        "count=24",
    ];
    let out = node.run(&dd);
    assert!(!out.status.success(), "dd past disk.space succeeded");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("No space left on device"), "{said}");
    node.exec("d", &["rm", "/big"]);

    let (said, made) = fill_inodes(&node, "d", "/many");
    assert!(said.contains("No space left on device"), "{said}");
    assert!(made < 64, "{made} files on a 64-inode disk");
    let inodes = row(&counters(&node, "d"), "diskinodes");
    assert_eq!(inodes["held"], inodes["limit"], "{inodes}");
    node.exec("d", &["rm", "-r", "/many"]);

    // Changing the inode count is never live.
    let err = node.fails(&["set", "d", "--disk-inodes", "128"]);
    assert!(
        err.contains("needs a restart") && err.contains("disk_inodes"),
        "{err}"
    );

    let grown_live = node.run(&["set", "d", "--disk-space", "48Mi"]);
    if grown_live.status.success() {
        assert_eq!(node.init_pid("d"), pid, "online grow keeps init");
    } else {
        // Without CAP_SYS_RESOURCE ext4 cannot grow while mounted: the node says so and grows
        // it through a restart when allowed.
        let err = String::from_utf8_lossy(&grown_live.stderr);
        assert!(
            err.contains("needs a restart") && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
        node.ok(&["set", "d", "--disk-space", "48Mi", "--restart"]);
        // The spec was created stopped, so the restart leaves it stopped.
        node.ok(&["start", "d"]);
    }
    node.ok(&dd);
    assert_eq!(node.status("d")["live"]["disk_space"], 48u64 << 20);
    let space = row(&counters(&node, "d"), "diskspace");
    assert!(space["held"].as_u64().unwrap() >= 24 << 20, "{space}");

    // A new inode count with a restart allowed: a new file system, the files copied over.
    node.ok(&["set", "d", "--disk-inodes", "256", "--restart"]);
    node.ok(&["start", "d"]);
    node.exec("d", &["test", "-f", "/big"]);
    let (_, made) = fill_inodes(&node, "d", "/more");
    assert!(
        (100..256).contains(&made),
        "{made} files on a 256-inode disk"
    );
    assert_eq!(node.status("d")["live"]["disk_inodes"], 256);
    let text = node.ok(&["counters"]);
    assert!(
        text.starts_with("Version: 2.5") && text.contains("d:"),
        "{text}"
    );
}

#[test]
fn io_caps_throttle_direct_io_on_the_containers_disk() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    node.create("io", &["--stopped"]);
    node.ok(&["set", "io", "--disk-space", "64Mi"]);
    node.ok(&["start", "io"]);
    let pid = node.init_pid("io");
    node.ok(&["set", "io", "--io-write-bps", "1Mi", "--io-read-bps", "1Mi"]);
    assert_eq!(node.init_pid("io"), pid, "set keeps the container running");
    let line = file(&node, "io", "blkio", "blkio.throttle.write_bps_device");
    assert!(line.ends_with(" 1048576"), "{line}");
    // The effect under test is the delay itself: 3 MiB at 1 MiB/s cannot finish in under
    // 1.5 s (unthrottled it takes milliseconds). A lower bound, not a speed goal.
    for argv in [
        [
            "dd",
            "if=/dev/zero",
            "of=/x",
            "bs=1M",
            "count=3",
            "oflag=direct",
        ],
        [
            "dd",
            "if=/x",
            "of=/dev/null",
            "bs=1M",
            "count=3",
            "iflag=direct",
        ],
    ] {
        let started = Instant::now();
        node.exec("io", &argv);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1500),
            "{argv:?} took {took:?}"
        );
    }
    node.ok(&[
        "set",
        "io",
        "--io-write-bps",
        "none",
        "--io-read-bps",
        "none",
    ]);
    assert_eq!(
        file(&node, "io", "blkio", "blkio.throttle.write_bps_device"),
        ""
    );
}
