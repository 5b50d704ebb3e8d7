//! The restart supervisor against the real kernel, on this host: a `fleet-node supervise` the
//! test starts and stops (by its pid), containers whose init is killed with SIGKILL, and what
//! `fleet-node status` and the hello then say.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Node, ServeSession, alive};

/// A `fleet-node supervise` of one test node, ended by its pid when dropped.
struct Supervisor {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Supervisor {
    fn start(node: &Node) -> Supervisor {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = node
            .command(&["supervise"])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let sup = Supervisor { child, log };
        // Up once the hello names it.
        let pid = sup.child.id();
        wait_for(
            "the supervisor in the hello",
            Duration::from_secs(20),
            || ServeSession::open(node).hello["supervisor"]["pid"] == pid,
        );
        sup
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    /// SIGTERM, as systemd stops it; returns once it has exited.
    fn stop(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "supervise exited {status}: {}",
            self.log()
        );
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill9(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// Waits until `name` runs an init other than `old`, and returns it.
fn new_init(node: &Node, name: &str, old: i32, within: Duration) -> i32 {
    let mut pid = 0;
    wait_for(&format!("{name} to run again"), within, || {
        let s = node.status(name);
        pid = s["init_pid"].as_i64().unwrap_or(0) as i32;
        s["state"] == "running" && pid != old
    });
    pid
}

/// The node's own record of the last restart: how long after the end of init it started again.
fn restart_delay_ms(root: &Path, name: &str) -> u64 {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("containers").join(name).join("state.json")).unwrap(),
    )
    .unwrap();
    state["started_at_ms"].as_u64().unwrap() - state["exit"]["at_ms"].as_u64().unwrap()
}

fn create(node: &Node, name: &str, extra: &[&str], command: &[&str]) {
    let mut args = vec!["create", name, "--template", "busybox"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    node.ok(&args);
}

#[test]
fn a_killed_init_comes_back_by_policy_with_growing_delays_and_not_without_a_policy() {
    let Some(node) = Node::new() else { return };
    create(
        &node,
        "crash",
        &["--restart", "on-failure"],
        &["/bin/sleep", "100000"],
    );
    create(&node, "plain", &[], &["/bin/sleep", "100000"]);
    node.ok(&["set", "crash", "--memory", "64Mi"]);
    let sup = Supervisor::start(&node);

    let (crash, plain) = (node.init_pid("crash"), node.init_pid("plain"));
    let killed = Instant::now();
    kill9(crash);
    kill9(plain);
    let again = new_init(&node, "crash", crash, Duration::from_secs(30));
    let took = killed.elapsed();
    let s = node.status("crash");
    assert_eq!(s["restarts"], 1, "{s}");
    assert_eq!(
        s["last_exit"]["status"],
        serde_json::json!({"kind": "killed", "signal": 9}),
        "{s}"
    );
    // The new init is a container's init again, with the spec's limits, read from the kernel.
    assert_eq!(
        support::proc_status(again, "NSpid")
            .split_whitespace()
            .last(),
        Some("1")
    );
    assert_eq!(s["live"]["memory"], 64 << 20, "{s}");
    // Without a policy it stays down, with how it ended recorded.
    std::thread::sleep(Duration::from_secs(3));
    let p = node.status("plain");
    assert_eq!(p["state"], "stopped", "{p}");
    assert_eq!(p["restarts"], 0, "{p}");
    assert_eq!(p["last_exit"]["status"]["signal"], 9, "{p}");

    // Back-off: each restart in a row waits twice as long (1 s, 2 s, 4 s), as the node records.
    let mut delays = vec![restart_delay_ms(node.root.path(), "crash")];
    let mut init = again;
    for _ in 0..2 {
        kill9(init);
        init = new_init(&node, "crash", init, Duration::from_secs(60));
        delays.push(restart_delay_ms(node.root.path(), "crash"));
    }
    eprintln!(
        "kill -9 to a running init again: {:.2} s; restart delays recorded: {delays:?} ms",
        took.as_secs_f64()
    );
    for (delay, at_least) in delays.iter().zip([1_000, 2_000, 4_000]) {
        assert!(
            *delay >= at_least,
            "restart after {delay} ms, before {at_least} ms"
        );
    }
    assert_eq!(node.status("crash")["restarts"], 3);
    let log = sup.log();
    for n in 1..=3 {
        assert!(
            log.contains(&format!("crash: killed by SIGKILL; restart {n} in ")),
            "{log}"
        );
    }

    // A verb's stop is not a crash: no restart. A start by a verb counts afresh.
    node.ok(&["stop", "crash"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(node.status("crash")["state"], "stopped");
    node.ok(&["start", "crash"]);
    let s = node.status("crash");
    assert_eq!(s["restarts"], 0, "{s}");
    // Stopped while it waits for its restart: it stays stopped.
    let pid = node.init_pid("crash");
    kill9(pid);
    wait_for("the kill", Duration::from_secs(5), || !alive(pid));
    node.ok(&["stop", "crash"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(node.status("crash")["state"], "stopped");
    sup.stop();
}

#[test]
fn without_a_supervisor_nothing_restarts_a_late_one_catches_up_and_max_retries_gives_up() {
    let Some(node) = Node::new() else { return };
    create(
        &node,
        "late",
        &["--restart", "always"],
        &["/bin/sleep", "100000"],
    );
    assert_eq!(
        ServeSession::open(&node).hello["supervisor"],
        serde_json::Value::Null
    );
    let pid = node.init_pid("late");
    kill9(pid);
    wait_for("the kill", Duration::from_secs(5), || !alive(pid));
    std::thread::sleep(Duration::from_secs(2));
    let s = node.status("late");
    assert_eq!(s["state"], "stopped", "no supervisor, no restart: {s}");
    // Nobody saw how it ended.
    assert_eq!(s["last_exit"]["status"]["kind"], "unknown", "{s}");

    // A command that fails at once, restarted twice, then given up on.
    create(
        &node,
        "quitter",
        &["--restart", "on-failure", "--max-retries", "2"],
        &["/bin/false"],
    );
    let sup = Supervisor::start(&node);
    new_init(&node, "late", pid, Duration::from_secs(30));
    assert_eq!(node.status("late")["restarts"], 1);
    wait_for("quitter to be given up", Duration::from_secs(60), || {
        node.status("quitter")["last_exit"]["gave_up"] == true
    });
    let q = node.status("quitter");
    assert_eq!(q["restarts"], 2, "{q}");
    assert_eq!(q["state"], "stopped", "{q}");
    assert_eq!(
        q["last_exit"]["status"],
        serde_json::json!({"kind": "exited", "code": 1}),
        "{q}"
    );
    assert!(
        sup.log()
            .contains("quitter: exited 1; gave up after 2 restarts in a row")
    );

    // SIGTERM ends the supervisor and leaves the containers running.
    let running = node.init_pid("late");
    sup.stop();
    assert!(alive(running));
    assert_eq!(
        ServeSession::open(&node).hello["supervisor"],
        serde_json::Value::Null
    );
    // stop --all stops every container, in parallel.
    let out = node.ok(&["stop", "--all", "--timeout", "1"]);
    assert_eq!(out, "late: stopped\n");
    assert!(!alive(running));
    // With --if-shutting-down on a host that is not shutting down, nothing is stopped.
    node.ok(&["start", "late"]);
    let out = node.ok(&["stop", "--all", "--if-shutting-down"]);
    assert!(out.contains("not shutting down"), "{out}");
    assert_eq!(node.status("late")["state"], "running");
}

#[test]
fn the_unit_runs_the_supervisor_with_the_nodes_console_bound() {
    let Some(node) = Node::new() else { return };
    let exec_start = |unit: &str| {
        unit.lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap_or_else(|| panic!("no ExecStart in {unit}"))
            .to_owned()
    };
    // By flag: the supervisor's restarts bound the log as the node's other starts do.
    let unit = node.ok(&["--console-log-max", "16Mi", "install-unit", "--print"]);
    assert!(
        exec_start(&unit).contains(" --console-log-max 16777216 supervise --boot"),
        "{unit}"
    );
    // By environment, as the orchestrator's SSH sessions set it.
    let unit = node.ok_with_env(
        &["install-unit", "--print"],
        &[("FLEET_NODE_CONSOLE_LOG_MAX", "1Mi")],
    );
    assert!(
        exec_start(&unit).contains(" --console-log-max 1048576 supervise --boot"),
        "{unit}"
    );
    // The default bound needs no flag.
    let unit = node.ok(&["install-unit", "--print"]);
    assert!(!exec_start(&unit).contains("--console-log-max"), "{unit}");
}
