//! Cold moves between two real sshd hosts on this machine, each with its own node root: the
//! real `fleet` moves a container whose pin changed, and its disk (a file written inside, and
//! random data so that the image travels in many chunks) arrives whole; a move whose target is
//! unreachable, or whose target's node is killed midway, leaves the container running on the
//! source, and the next apply finishes the move.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::fleetctl::{Cleanup, expect, fleet_bin, wait_within};
use support::sshd::{Cluster, skip_unless_ready, unique};

/// Writes the spec: the cluster's hosts and one container `mover` with a 64Mi disk pinned to
/// `node-<host>`.
fn write(cluster: &Cluster, fleet: &str, host: usize) -> PathBuf {
    write_with(cluster, fleet, &format!("\n    host: node-{host}"))
}

/// The same spec with `placement` (the container's host line, or none) as given.
fn write_with(cluster: &Cluster, fleet: &str, placement: &str) -> PathBuf {
    let mut yaml = format!("apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n");
    for h in cluster.hosts() {
        let fleet::model::Transport::Ssh(t) = &h.transport else {
            unreachable!("the cluster's hosts are ssh hosts")
        };
        yaml.push_str(&format!(
            "  - name: {name}\n    transport: ssh\n    address: {addr}\n    port: {port}\n    \
             user: root\n    identity_file: {id}\n    known_hosts: {kh}\n    \
             capacity: {{cpus: 64, memory: 64Gi, disk: 100Gi}}\n    node:\n      path: {path}\n      \
             root: {root}\n      cgroup_parent: {cg}\n",
            name = h.name,
            addr = t.address,
            port = t.port,
            id = cluster.identity.display(),
            kh = cluster.known_hosts.display(),
            path = h.node.path,
            root = h.node.root,
            cg = h.node.cgroup_parent,
        ));
    }
    yaml.push_str(&format!(
        "containers:\n  - name: mover\n    template: busybox\n    \
         command: [\"/bin/sleep\", \"1000000\"]{placement}\n    \
         resources:\n      memory: 64Mi\n      disk: {{space: 64Mi}}\n"
    ));
    let path = cluster.dir.path().join("move.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path
}

fn root(cluster: &Cluster, host: usize) -> PathBuf {
    cluster.dir.path().join(format!("node-{host}"))
}

/// The PID of `mover`'s init on node `host` when it is alive, from the node's store.
fn running_on(cluster: &Cluster, host: usize) -> Option<i64> {
    let state = root(cluster, host).join("containers/mover/state.json");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(state).ok()?).ok()?;
    let pid = state["init_pid"].as_i64()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

fn exec(spec: &Path, command: &str) -> Output {
    Command::new(fleet_bin())
        .args(["exec", "-f", spec.to_str().unwrap(), "mover", "--"])
        .args(["/bin/sh", "-c", command])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn exec_ok(spec: &Path, command: &str) -> String {
    let out = exec(spec, command);
    assert!(
        out.status.success(),
        "exec {command}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Starts `mover` on node-0 with a file written inside and `noise_mib` MiB of random data.
fn start_on_node_0(cluster: &Cluster, fleet: &str, noise_mib: u32) -> (PathBuf, String) {
    let spec = write(cluster, fleet, 0);
    expect("apply", &spec, &["--yes"], 0);
    let sum = exec_ok(
        &spec,
        &format!(
            "echo kept > /kept.txt && dd if=/dev/urandom of=/noise bs=1048576 count={noise_mib} \
             2>/dev/null && sync && md5sum /noise"
        ),
    );
    assert!(running_on(cluster, 0).is_some());
    (spec, sum)
}

#[track_caller]
fn assert_moved(cluster: &Cluster, spec: &Path, sum: &str) {
    assert!(running_on(cluster, 1).is_some(), "mover runs on node-1");
    assert!(
        !root(cluster, 0).join("containers/mover").exists(),
        "the source's copy is gone"
    );
    assert_eq!(exec_ok(spec, "cat /kept.txt"), "kept\n");
    // Owned by the container's root on the new host too (its range there).
    assert_eq!(exec_ok(spec, "stat -c %u:%g /kept.txt"), "0:0\n");
    assert_eq!(exec_ok(spec, "md5sum /noise"), sum);
    let again = expect("plan", spec, &[], 0);
    assert!(again.contains("No changes."), "{again}");
}

#[test]
fn a_cold_move_keeps_the_files_written_inside() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(2);
    let fleet = format!("move-{}", unique());
    let (spec, sum) = start_on_node_0(&cluster, &fleet, 4);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    let pid_before = running_on(&cluster, 0);

    write(&cluster, &fleet, 1);
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains(
            "node-1:\n  > mover (move node-0 -> node-1, cold; live moves are not available yet)"
        ),
        "{plan}"
    );
    assert!(plan.contains("1 to move."), "{plan}");
    // Without --yes and without a terminal, a move (which stops the container) changes nothing.
    expect("apply", &spec, &[], 1);
    assert_eq!(running_on(&cluster, 0), pid_before);

    let out = expect("apply", &spec, &["--yes"], 0);
    eprintln!("{out}");
    assert!(
        out.contains("mover moved node-0 -> node-1 (cold): "),
        "{out}"
    );
    assert_moved(&cluster, &spec, &sum);
}

#[test]
fn a_move_cut_off_leaves_the_container_running_on_the_source_and_the_next_apply_finishes_it() {
    if skip_unless_ready() {
        return;
    }
    let mut cluster = Cluster::start(2);
    let fleet = format!("move-cut-{}", unique());
    let (spec, sum) = start_on_node_0(&cluster, &fleet, 24);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    // The target is unreachable: nothing is stopped or sent.
    cluster.sshds[1].kill();
    write(&cluster, &fleet, 1);
    let pid = running_on(&cluster, 0);
    let out = expect("apply", &spec, &["--yes"], 1);
    assert!(out.contains("node-1: unreachable"), "{out}");
    assert_eq!(running_on(&cluster, 0), pid, "untouched on node-0");
    cluster.sshds[1].resume();

    // The target's node is killed while the image travels (its PID is in the apply lock's
    // holder record, written when the import begins).
    let holder = root(&cluster, 1).join("apply.lock.holder");
    let child = Command::new(fleet_bin())
        .args(["apply", "-f", spec.to_str().unwrap(), "--yes"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let node_pid = loop {
        let record: Option<serde_json::Value> = std::fs::read(&holder)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(pid) = record.and_then(|r| r["pid"].as_u64()) {
            break pid;
        }
        assert!(Instant::now() < deadline, "the import never began");
        std::thread::sleep(Duration::from_millis(5));
    };
    let killed = Command::new("kill")
        .args(["-KILL", &node_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // A cut-off move once hung here (a write to the killed node waited for its window).
    let out = wait_within(child, Duration::from_secs(300), "the cut-off apply");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("lost the session with node-1 during the move")
            && stdout.contains("mover runs on node-0 again"),
        "{stdout}"
    );
    assert!(running_on(&cluster, 0).is_some(), "running on node-0 again");
    assert!(
        !root(&cluster, 1).join("containers/mover").exists(),
        "nothing half-received is a container"
    );

    // The next apply finishes the move.
    let out = expect("apply", &spec, &["--yes"], 0);
    assert!(
        out.contains("mover moved node-0 -> node-1 (cold): "),
        "{out}"
    );
    assert_moved(&cluster, &spec, &sum);
}

#[test]
fn drain_moves_an_unpinned_container_off_its_host_and_it_stays_there() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(2);
    let fleet = format!("drain-{}", unique());
    let spec = write_with(&cluster, &fleet, "");
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    expect("apply", &spec, &["--yes"], 0);
    exec_ok(&spec, "echo kept > /kept.txt");
    let (from, to) = match running_on(&cluster, 0) {
        Some(_) => (0, 1),
        None => (1, 0),
    };
    assert!(running_on(&cluster, from).is_some());
    let host = format!("node-{from}");
    let spec_arg = spec.to_str().unwrap();
    let dry = support::fleetctl::run(&["drain", &host, "-f", spec_arg, "--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("> mover (move node-{from} -> node-{to}, cold")),
        "{text}"
    );
    assert!(
        running_on(&cluster, from).is_some(),
        "--dry-run changes nothing"
    );
    let unknown = support::fleetctl::run(&["drain", "node-9", "-f", spec_arg]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("the fleet has no host \"node-9\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let out = support::fleetctl::run(&["drain", &host, "-f", spec_arg, "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(running_on(&cluster, to).is_some(), "{text}");
    assert_eq!(exec_ok(&spec, "cat /kept.txt"), "kept\n");
    // The scheduler keeps a running container where it runs: the spec's apply leaves it there.
    let again = expect("plan", &spec, &[], 0);
    assert!(again.contains("No changes."), "{again}");
}
