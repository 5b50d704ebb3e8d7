//! Helpers of the move tests over real sshd hosts: a spec with one container `mover` (busybox,
//! 64Mi memory and disk) over a [`Cluster`]'s hosts, where it runs (from each node's store),
//! running commands inside it through `fleet exec`, a start with it running on node-0, and what
//! a finished or a failed move must leave.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::fleetctl::{self, Cleanup, expect, expect_no_changes};
use super::sshd::{Cluster, unique};

/// Writes the spec: the cluster's hosts and `mover` pinned to `node-<host>`.
pub fn write(cluster: &Cluster, fleet: &str, host: usize) -> PathBuf {
    write_with(cluster, fleet, &format!("\n    host: node-{host}"), "")
}

/// The same spec with `placement` (the container's host line, or none) and `more` (further
/// lines of the container's entry, each starting with a newline and four spaces) as given.
pub fn write_with(cluster: &Cluster, fleet: &str, placement: &str, more: &str) -> PathBuf {
    let mut yaml = format!("apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n");
    yaml.push_str(
        &cluster.hosts_yaml(cluster.sshds.len(), "{cpus: 64, memory: 64Gi, disk: 100Gi}"),
    );
    yaml.push_str(&format!(
        "containers:\n  - name: mover\n    template: busybox\n    \
         command: [\"/bin/sleep\", \"1000000\"]{placement}\n    \
         resources:\n      memory: 64Mi\n      disk: {{space: 64Mi}}{more}\n"
    ));
    let path = cluster.dir.path().join("move.yaml");
    std::fs::write(&path, yaml).expect("write spec");
    path
}

/// Node `host`'s root directory.
pub fn root(cluster: &Cluster, host: usize) -> PathBuf {
    cluster.dir.path().join(format!("node-{host}"))
}

/// The PID of `mover`'s init on node `host` when it is alive, from the node's store.
pub fn running_on(cluster: &Cluster, host: usize) -> Option<i64> {
    let state = root(cluster, host).join("containers/mover/state.json");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(state).ok()?).ok()?;
    let pid = state["init_pid"].as_i64()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Runs `sh -c command` inside `mover` through `fleet exec`.
pub fn exec(spec: &Path, command: &str) -> Output {
    exec_in(spec, "mover", command)
}

/// Runs `sh -c command` inside container `name` of `spec` through `fleet exec`.
pub fn exec_in(spec: &Path, name: &str, command: &str) -> Output {
    let spec = spec.to_str().unwrap();
    fleetctl::command(&["exec", "-f", spec, name, "--", "/bin/sh", "-c", command])
        .output()
        .unwrap()
}

/// [`exec`], asserting success; returns its stdout.
#[track_caller]
pub fn exec_ok(spec: &Path, command: &str) -> String {
    exec_ok_in(spec, "mover", command)
}

/// [`exec_in`], asserting success; returns its stdout.
#[track_caller]
pub fn exec_ok_in(spec: &Path, name: &str, command: &str) -> String {
    let out = exec_in(spec, name, command);
    assert!(
        out.status.success(),
        "exec {command}: {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Applies `spec` (mover on node-0) and writes a file and `noise_mib` MiB of random data inside;
/// returns the noise's md5sum line.
pub fn fill(cluster: &Cluster, spec: &Path, noise_mib: u32) -> String {
    expect("apply", spec, &["--yes"], 0);
    let sum = exec_ok(
        spec,
        &format!(
            "echo kept > /kept.txt && dd if=/dev/urandom of=/noise bs=1048576 count={noise_mib} \
             2>/dev/null && sync && md5sum /noise"
        ),
    );
    assert!(running_on(cluster, 0).is_some());
    sum
}

/// Starts `mover` on node-0 with a file written inside and `noise_mib` MiB of random data.
pub fn start_on_node_0(cluster: &Cluster, fleet: &str, noise_mib: u32) -> (PathBuf, String) {
    let spec = write(cluster, fleet, 0);
    let sum = fill(cluster, &spec, noise_mib);
    (spec, sum)
}

/// Two sshd hosts and `mover` of fleet `<label>-<unique>` started on node-0 with a file written
/// inside and some MiB of random data ([`start_on_node_0`]), destroyed (with its cgroups) by its
/// Drop even when the test fails.
pub struct OnNode0 {
    /// Destroys the fleet; declared first, so it runs before the cluster goes.
    _cleanup: Cleanup,
    /// The two hosts.
    pub cluster: Cluster,
    /// The fleet's name.
    pub fleet: String,
    /// The spec's path.
    pub spec: PathBuf,
    /// The random data's md5sum line, for [`assert_moved`].
    pub sum: String,
}

impl OnNode0 {
    /// The hosts and `mover` with `noise_mib` MiB of random data, or `None` when the test is to
    /// be skipped ([`Cluster::start_if_ready`]).
    pub fn start(label: &str, noise_mib: u32) -> Option<OnNode0> {
        let cluster = Cluster::start_if_ready(2)?;
        let fleet = format!("{label}-{}", unique());
        let (spec, sum) = start_on_node_0(&cluster, &fleet, noise_mib);
        Some(OnNode0 {
            _cleanup: Cleanup::new(&cluster, &[&spec]),
            cluster,
            fleet,
            spec,
            sum,
        })
    }
}

/// Applies `spec` (`mover` pinned to node-1 again), which moves it cold from node-0 and leaves
/// what [`assert_moved`] checks; returns what the apply printed.
#[track_caller]
pub fn apply_the_cold_move(cluster: &Cluster, spec: &Path, sum: &str) -> String {
    let out = expect("apply", spec, &["--yes"], 0);
    assert!(
        out.contains("mover moved node-0 -> node-1 (cold): "),
        "{out}"
    );
    assert_moved(cluster, spec, sum);
    out
}

/// What a move that failed once the image travelled leaves: the apply exited 1 saying `why` and
/// that `mover` runs on node-0 again, which it does, and nothing half-received is a container
/// on node-1.
#[track_caller]
pub fn assert_back_on_node_0(cluster: &Cluster, out: &Output, why: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(why) && stdout.contains("mover runs on node-0 again"),
        "{stdout}"
    );
    assert!(running_on(cluster, 0).is_some(), "running on node-0 again");
    assert!(
        !root(cluster, 1).join("containers/mover").exists(),
        "nothing half-received is a container"
    );
}

/// What a finished move to node-1 leaves: it runs there, the source's copy is gone, the data
/// arrived whole and owned by the container's root, and the spec has nothing left to do.
#[track_caller]
pub fn assert_moved(cluster: &Cluster, spec: &Path, sum: &str) {
    assert!(running_on(cluster, 1).is_some(), "mover runs on node-1");
    assert!(
        !root(cluster, 0).join("containers/mover").exists(),
        "the source's copy is gone"
    );
    assert_eq!(exec_ok(spec, "cat /kept.txt"), "kept\n");
    // Owned by the container's root on the new host too (its range there).
    assert_eq!(exec_ok(spec, "stat -c %u:%g /kept.txt"), "0:0\n");
    assert_eq!(exec_ok(spec, "md5sum /noise"), sum);
    expect_no_changes("plan", spec, &[]);
}

/// Starts `fleet apply --yes` on `spec` (stdout and stderr piped) and returns it, with the PID
/// of node-1's fleet-node, once node-1's apply lock names that node: the import has begun, the
/// container is stopped on node-0 and its image travels.
pub fn apply_until_the_import_begins(cluster: &Cluster, spec: &Path) -> (Child, u64) {
    let holder = root(cluster, 1).join("apply.lock.holder");
    // A holder record a killed node left would be read as this import's.
    let _ = std::fs::remove_file(&holder);
    let child = fleetctl::spawn(&["apply", "-f", spec.to_str().unwrap(), "--yes"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let pid = loop {
        let record: Option<serde_json::Value> = std::fs::read(&holder)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(pid) = record.and_then(|r| r["pid"].as_u64()) {
            break pid;
        }
        assert!(Instant::now() < deadline, "the import never began");
        std::thread::sleep(Duration::from_millis(5));
    };
    (child, pid)
}

/// The criu the nodes use, or `None` after saying why (a failure under CI=true).
pub fn criu() -> Option<String> {
    let path = std::env::var("FLEET_NODE_CRIU").ok();
    let works = path.as_deref().is_some_and(|p| {
        Command::new(p)
            .arg("check")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if works {
        return path;
    }
    let why = format!(
        "no working criu in $FLEET_NODE_CRIU ({path:?}): run scripts/criu and export what it prints"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// Two sshd hosts whose nodes use [`criu`], or `None` after saying why they cannot be had (a
/// failure under CI=true).
pub fn live_cluster() -> Option<Cluster> {
    if super::sshd::skip_unless_ready() {
        return None;
    }
    let criu = criu()?;
    Some(Cluster::start_with_env(
        2,
        &[format!("FLEET_NODE_CRIU={criu}")],
    ))
}
