//! A live move between two real sshd hosts on this machine, each with its own node root and
//! cgroup parent, both with the CRIU `scripts/test` found (`$FLEET_NODE_CRIU`): `fleet move`
//! and `fleet drain` carry a running container across without restarting it. Its shell keeps
//! an in-memory counter and the same PID in its namespace, and the TCP connection it streams
//! the counter over (to a listener of its own, on its loopback) stays open and loses nothing;
//! the downtime (freeze on the source to running on the target) is in the output.
//!
//! Both nodes share this machine's network namespace, so the test's container has a network
//! namespace of its own with loopback only (`network: none`): two bridged copies of it would
//! share one bridge and veth name. The bridged path of a restore is node-runtime's
//! checkpoint test.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::counter::{assert_no_pre_dump, assert_went_on};
use support::moves::{criu, exec_ok_in, live_cluster, root};

use support::fleetctl::{Cleanup, expect, expect_no_changes};
use support::sshd::{Cluster, skip_unless_ready, unique};

/// The shell counts in its own memory (each value also to /tmp/counter, written new and renamed
/// over the old so that a read never finds it truncated and empty) and sends each value
/// down a TCP connection to a listener in the container, which writes what it receives to
/// /tmp/received.
///
/// The listener reads a pipe that never ends: a background job's stdin is /dev/null, and
/// busybox nc closes the connection at its stdin's end, which ended the counting pipeline
/// (the container was "not running" by the time of the move).
const SCRIPT: &str = "echo $$ > /tmp/pid; sleep 2147483647 | nc -l -p 7000 > /tmp/received & \
                      sleep 0.5; i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; \
                      mv /tmp/counter.new /tmp/counter; echo $i; sleep 0.1; done \
                      | nc 127.0.0.1 7000";

fn write(cluster: &Cluster, fleet: &str) -> PathBuf {
    support::fleetctl::write_spec_yaml(
        cluster,
        "live.yaml",
        fleet,
        &format!(
            "  - name: counter\n    template: busybox\n    command: [\"/bin/sh\", \"-c\", {script:?}]\n    \
             resources:\n      memory: 64Mi\n      disk: {{space: 64Mi}}\n",
            script = SCRIPT
        ),
    )
}

/// The host index `counter`'s live init is on.
fn host_of(cluster: &Cluster) -> Option<usize> {
    (0..2).find(|&h| {
        let state = root(cluster, h).join("containers/counter/state.json");
        let Some(state) = std::fs::read(state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        else {
            return false;
        };
        state["init_pid"]
            .as_i64()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    })
}

/// `fleet exec` of `sh -c command` in `counter`, asserting success; its stdout, trimmed.
#[track_caller]
fn exec_ok(spec: &Path, command: &str) -> String {
    exec_ok_in(spec, "counter", command).trim().to_owned()
}

/// Writes the spec of fleet `live-<unique>` over `cluster`, starts `counter` and lets it count
/// for a second. Returns the spec, the guard that destroys the fleet, the host `counter` runs
/// on and the other one.
fn start_counting(cluster: &Cluster) -> (PathBuf, Cleanup, usize, usize) {
    let fleet = format!("live-{}", unique());
    let spec = write(cluster, &fleet);
    let cleanup = Cleanup::new(cluster, &[&spec]);
    expect("apply", &spec, &["--yes"], 0);
    let from = host_of(cluster).expect("counter runs");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    (spec, cleanup, from, 1 - from)
}

/// The counter, the counting shell's PID in the container, and the numbers the listener got.
fn look(spec: &Path) -> (u64, String, Vec<u64>) {
    let counter = exec_ok(spec, "cat /tmp/counter").parse().expect("a number");
    let pid = exec_ok(spec, "cat /tmp/pid");
    let received = exec_ok(spec, "cat /tmp/received")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    (counter, pid, received)
}

/// Moves live with `fleet <verb> -f spec <extra>`, and checks that the counter and the
/// connection went on.
#[track_caller]
fn moves_live(
    cluster: &Cluster,
    spec: &Path,
    (verb, extra): (&str, &[&str]),
    from: usize,
    to: usize,
) -> String {
    let (before, pid, _) = look(spec);
    assert!(before > 0);
    let text = expect(verb, spec, extra, 0);
    let json = extra.contains(&"json");
    let line = if json {
        // The report's figures as data: a live move with its downtime and dump.
        let report: serde_json::Value = serde_json::from_str(&text).expect("a JSON report");
        let m = &report["moves"][0];
        assert_eq!(m["live"], true, "{report:#}");
        assert!(
            m["downtime_ms"].as_u64() >= m["frozen_ms"].as_u64()
                && m["checkpoint_bytes"].as_u64() > Some(0),
            "{report:#}"
        );
        // This kernel tracks no dirty memory: no pre-dump round, and the report says why.
        assert_no_pre_dump(m, "no memory dirty tracking");
        format!(
            "counter moved {} -> {} (live) down {} ms (frozen {} ms)",
            m["from"].as_str().unwrap(),
            m["to"].as_str().unwrap(),
            m["downtime_ms"],
            m["frozen_ms"]
        )
    } else {
        text.lines()
            .find(|l| l.contains("counter moved"))
            .unwrap_or_else(|| panic!("no move reported: {text}"))
            .to_owned()
    };
    eprintln!("{line}");
    assert!(
        line.contains(&format!("moved node-{from} -> node-{to} (live)")),
        "{line}"
    );
    assert!(
        line.contains(" down ") && line.contains(" ms (frozen "),
        "{line}"
    );
    if !json {
        assert!(
            line.contains(&format!(
                "no pre-dump: node-{from}: this kernel has no memory dirty tracking for CRIU"
            )),
            "{line}"
        );
    }
    assert_eq!(host_of(cluster), Some(to), "runs on node-{to}");
    assert!(
        !root(cluster, from).join("containers/counter").exists(),
        "the source's copy is gone"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    let seen = look(spec);
    let alive = exec_ok(spec, &format!("cat /proc/{pid}/cmdline | tr '\\0' ' '"));
    assert!(
        alive.contains("i=0"),
        "PID {pid} is the counting shell: {alive}"
    );
    assert_went_on(before, &pid, seen);
    line
}

#[test]
fn a_live_move_keeps_the_counter_the_pid_and_an_open_tcp_connection() {
    let Some(cluster) = live_cluster() else {
        return;
    };
    let (spec, _cleanup, from, to) = start_counting(&cluster);
    let spec_arg = spec.to_str().unwrap();
    let target = format!("node-{to}");

    let dry = support::fleetctl::run(&[
        "move",
        "counter",
        "--to",
        &target,
        "-f",
        spec_arg,
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains(&format!("> counter (move node-{from} -> node-{to}, live)")),
        "{text}"
    );
    moves_live(
        &cluster,
        &spec,
        ("move", &["counter", "--to", &target, "--yes"]),
        from,
        to,
    );
    // And back, by draining the host it is on now.
    moves_live(
        &cluster,
        &spec,
        ("drain", &[&target, "--yes", "-o", "json"]),
        to,
        from,
    );
    expect_no_changes("plan", &spec, &[]);
}

/// A criu for host `i` of a cluster: the real one, except that `restore` is refused while the
/// file `refuse-restore-<i>` exists in the cluster's dir (a target whose restore fails).
fn refusing_criu(dir: &Path, i: usize, criu: &str) -> PathBuf {
    let path = dir.join(format!("criu-{i}"));
    let flag = dir.join(format!("refuse-restore-{i}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = restore ] && [ -e '{flag}' ]; then\n  \
             echo 'restore refused by the test' >&2\n  exit 1\nfi\nexec '{criu}' \"$@\"\n",
            flag = flag.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Two sshd hosts whose nodes run [`refusing_criu`], or `None` after saying why they cannot be
/// had.
fn refusing_cluster() -> Option<Cluster> {
    if skip_unless_ready() {
        return None;
    }
    let criu = criu()?;
    let cluster = Cluster::start_with_host_env(2, |i, dir| {
        vec![format!(
            "FLEET_NODE_CRIU={}",
            dir.join(format!("criu-{i}")).display()
        )]
    });
    for i in 0..2 {
        refusing_criu(cluster.dir.path(), i, &criu);
    }
    Some(cluster)
}

/// `fleet move counter --to node-<to> -o json`, which fails: its JSON report and the step's
/// error.
fn failed_move(spec: &Path, to: usize) -> (serde_json::Value, String) {
    let target = format!("node-{to}");
    let text = expect(
        "move",
        spec,
        &["counter", "--to", &target, "--yes", "-o", "json"],
        1,
    );
    let report: serde_json::Value = serde_json::from_str(&text).expect("a JSON report");
    let error = report["steps"][0]["outcome"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (report, error)
}

#[test]
fn a_live_move_whose_restore_fails_leaves_the_container_running_on_the_source() {
    let Some(cluster) = refusing_cluster() else {
        return;
    };
    let (spec, _cleanup, from, to) = start_counting(&cluster);
    let (before, pid, _) = look(&spec);
    std::fs::write(cluster.dir.path().join(format!("refuse-restore-{to}")), "").unwrap();

    let (report, error) = failed_move(&spec, to);
    assert!(
        error.contains("criu restore failed")
            && error.contains(&format!(
                "runs on node-{from} again, restored from its checkpoint"
            )),
        "the target's reason, and where the container is: {report:#}"
    );
    assert!(report.get("moves").is_none(), "nothing moved: {report:#}");

    // Back on the source, restored from the dump it kept: the same shell, the counter not
    // reset, the connection still carrying it; nothing of it on the target.
    assert_eq!(host_of(&cluster), Some(from), "runs on node-{from}");
    let left = root(&cluster, to);
    assert!(
        !left.join("containers/counter").exists(),
        "nothing on node-{to}"
    );
    let incoming: Vec<_> = std::fs::read_dir(left.join("incoming"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        incoming.is_empty(),
        "nothing half-received on node-{to}: {incoming:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_went_on(before, &pid, look(&spec));
    // Unpinned, it stays where it runs.
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains("No changes."),
        "it stays where it runs: {plan}"
    );
}

#[test]
fn a_live_move_whose_dump_restores_on_neither_side_says_the_source_started_it_afresh() {
    let Some(cluster) = refusing_cluster() else {
        return;
    };
    for i in 0..2 {
        std::fs::write(cluster.dir.path().join(format!("refuse-restore-{i}")), "").unwrap();
    }
    let (spec, _cleanup, from, to) = start_counting(&cluster);
    let (report, error) = failed_move(&spec, to);
    assert!(
        error.contains(&format!(
            "counter runs on node-{from} again, started afresh (its processes restarted): its \
             checkpoint did not restore"
        )) && error.contains("criu restore failed"),
        "what really happened on the source, and why: {report:#}"
    );
    assert!(
        !error.contains("restored from its checkpoint"),
        "{report:#}"
    );
    assert_eq!(host_of(&cluster), Some(from), "runs on node-{from}");
}

#[test]
fn a_live_move_cut_off_by_a_killed_fleet_is_rolled_back_by_the_next_apply() {
    let Some(cluster) = live_cluster() else {
        return;
    };
    let (spec, _cleanup, from, to) = start_counting(&cluster);
    let (before, pid, _) = look(&spec);

    // `fleet move`, killed (SIGKILL) as soon as the source has marked the container as moving:
    // the dump goes on there, and nothing tells either node how the move ends.
    let spec_arg = spec.to_str().unwrap();
    let target = format!("node-{to}");
    let mut child =
        support::fleetctl::command(&["move", "counter", "--to", &target, "-f", spec_arg, "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let mark = root(&cluster, from).join("containers/counter/moving.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !mark.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no move mark within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The source's node goes on with the dump, which ends the tree; the mark stays.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while host_of(&cluster).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dump did not end the tree"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(mark.exists(), "the mark stays");

    // The next apply (waiting for the source's apply lock, which the cut-off session holds
    // until its dump ends) rolls the move back: the container is restored on the source from
    // the dump, with its processes as they were, and the mark is gone.
    let plan = expect("plan", &spec, &[], 0);
    assert!(plan.contains("counter (start)"), "{plan}");
    let out = expect("apply", &spec, &["--yes", "--lock-timeout", "60"], 0);
    assert_eq!(host_of(&cluster), Some(from), "runs on node-{from}: {out}");
    assert!(!mark.exists(), "the mark is cleared");
    assert!(
        !root(&cluster, to).join("containers/counter").exists(),
        "nothing on node-{to}"
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_went_on(before, &pid, look(&spec));
    expect_no_changes("plan", &spec, &[]);
}
