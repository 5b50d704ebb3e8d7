//! A host's reboot with Fleet on it (issue 11), on vm-1 of the pair, whose fleet-node.service
//! (the .deb's, see [`crate::package`]) runs `fleet-node supervise --boot`: after `fleet apply`, kill -9 of an init brings it back by
//! its restart policy and not without one; then the tier's reboot of vm-1 (one reboot for every
//! check that needs one), after which the onboot containers run again with their limits, disk and
//! address, the others stay stopped, the shutdown was not held up by an init that ignores
//! SIGTERM, and `fleet plan` shows only the start the spec still wants.

use std::time::{Duration, Instant};

use fleet_vm::Cluster;

/// The VM this phase runs on (its only host in the spec).
pub const HOST: &str = "vm-1";

/// The containers: two onboot (one of them an init that ignores SIGTERM, as a `sleep` in a pid
/// namespace does), one not onboot that the spec wants running, one the spec wants stopped.
/// Each has a cpu limit: vm-1 has one vCPU, and a container without one is placed as needing a
/// whole CPU (docs/placement.md), so only one of them would fit.
const CONTAINERS: &str = "  - name: on-1
    template: busybox
    command: [\"/bin/sleep\", \"1000000\"]
    host: vm-1
    onboot: true
    restart: on-failure
    resources: {cpu: {limit: 10%}, memory: 64Mi, pids: 100, disk: {space: 64Mi}}
    network: {bridge: fleet0, addresses: [\"10.77.0.11/24\"], gateway: 10.77.0.1}
  - name: on-2
    template: busybox
    command: [\"/bin/sleep\", \"1000000\"]
    init: none
    host: vm-1
    onboot: true
    resources: {cpu: {limit: 10%}, memory: 32Mi}
  - name: off-1
    template: busybox
    command: [\"/bin/sleep\", \"1000000\"]
    host: vm-1
    resources: {cpu: {limit: 10%}, memory: 32Mi}
  - name: off-2
    template: busybox
    command: [\"/bin/sleep\", \"1000000\"]
    host: vm-1
    state: stopped
    resources: {cpu: {limit: 10%}, memory: 32Mi}
";

/// The spec of this phase, written once.
pub fn spec(cluster: &Cluster) -> String {
    cluster
        .write_spec_on("reboot.yaml", "reboot", &[HOST], CONTAINERS)
        .display()
        .to_string()
}

/// `fleet get containers -o json` rows.
pub fn status_rows(cluster: &Cluster, spec: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&cluster.fleet_ok(&["get", "containers", "-f", spec, "-o", "json"]))
        .unwrap()
}

fn row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name || r["container"] == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
}

/// Waits (polling `fleet-node status` in the VM every 200 ms) until `name` runs an init other
/// than `old`.
fn wait_new_init(cluster: &Cluster, name: &str, old: &str, within: Duration) -> String {
    let vm = cluster.vm(HOST);
    let start = Instant::now();
    loop {
        let out = vm.ssh.run(&[&vm.node_path, "status", name, "-o", "json"]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let pid = s["init_pid"].to_string();
        if s["state"] == "running" && pid != old && pid != "null" {
            return pid;
        }
        assert!(start.elapsed() < within, "{name} did not run again: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The phase before the reboot: apply the four containers (no plan warning: the supervisor
/// runs), then kill -9 of on-1's init (restart: on-failure) and off-1's (no policy): on-1 comes
/// back with one restart and its last exit, off-1 stays stopped with its last exit; apply starts
/// off-1 again. Returns the rows as they were before the reboot.
pub fn crash_by_policy(cluster: &Cluster, spec: &str) -> Vec<serde_json::Value> {
    let vm = cluster.vm(HOST);
    let plan: serde_json::Value =
        serde_json::from_str(&cluster.fleet_ok(&["plan", "-f", spec, "-o", "json"])).unwrap();
    assert_eq!(plan["warnings"], serde_json::json!([]), "{plan}");
    cluster.fleet_ok(&["apply", "-f", spec, "--yes"]);
    let rows = status_rows(cluster, spec);
    for name in ["on-1", "on-2", "off-1"] {
        assert_eq!(row(&rows, name)["state"], "running", "{name}: {rows:?}");
    }
    assert_eq!(row(&rows, "off-2")["state"], "stopped");

    let on1 = row(&rows, "on-1")["init_pid"].to_string();
    let off1 = row(&rows, "off-1")["init_pid"].to_string();
    vm.ssh.ok(&["kill", "-9", &on1, &off1]);
    wait_new_init(cluster, "on-1", &on1, Duration::from_secs(120));
    let status: Vec<serde_json::Value> =
        serde_json::from_str(&cluster.fleet_expect(&["status", "-f", spec, "-o", "json"], 2))
            .unwrap();
    let on1_line = row(&status, "on-1");
    assert_eq!(on1_line["restarts"], 1, "{status:?}");
    assert_eq!(on1_line["last_exit"]["status"]["signal"], 9, "{status:?}");
    let off1_line = row(&status, "off-1");
    assert_eq!(off1_line["status"], "stopped", "{status:?}");
    assert_eq!(off1_line["last_exit"]["status"]["signal"], 9, "{status:?}");
    cluster.fleet_ok(&["apply", "-f", spec, "--yes"]);
    status_rows(cluster, spec)
}

/// The phase after the reboot: the unit started the onboot containers as the host booted (new
/// inits, their limits, their own disk, their address on the bridge); the others are stopped;
/// the plan wants exactly off-1 started and warns of nothing.
pub fn onboot_containers_came_back(cluster: &Cluster, spec: &str, before: &[serde_json::Value]) {
    let vm = cluster.vm(HOST);
    // The unit starts them as the host boots: wait for both (asking the node over the harness's
    // own connection, every 500 ms), then look through fleet.
    let start = Instant::now();
    for name in ["on-1", "on-2"] {
        loop {
            let out = vm.ssh.run(&[&vm.node_path, "status", name, "-o", "json"]);
            let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if s["state"] == "running" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{name} not running after the reboot: {s}\n{}",
                vm.ssh
                    .sh("journalctl -b -u fleet-node --no-pager | tail -n 40")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    eprintln!(
        "fleet-vm: both onboot containers ran {:.1} s after sshd answered",
        start.elapsed().as_secs_f64()
    );
    let rows = status_rows(cluster, spec);
    for name in ["on-1", "on-2"] {
        assert_ne!(
            row(&rows, name)["init_pid"],
            row(before, name)["init_pid"],
            "{name}"
        );
    }
    assert_eq!(row(&rows, "off-1")["state"], "stopped", "{rows:?}");
    assert_eq!(row(&rows, "off-2")["state"], "stopped", "{rows:?}");
    // With their limits, disk and address.
    let cg = |name: &str, file: &str| {
        vm.ssh
            .ok(&["cat", &format!("/sys/fs/cgroup/fleet/{name}/{file}")])
            .trim()
            .to_owned()
    };
    assert_eq!(cg("on-1", "memory.max"), (64u64 << 20).to_string());
    assert_eq!(cg("on-1", "pids.max"), "100");
    assert_eq!(cg("on-1", "cpu.max"), "10000 100000");
    assert_eq!(cg("on-2", "memory.max"), (32u64 << 20).to_string());
    let node = vm.node_path.as_str();
    let df = vm.ssh.ok(&[node, "exec", "on-1", "--", "df", "-k", "/"]);
    let total_kib: u64 = df
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("df: {df}"));
    assert!(
        (40_000..=66_000).contains(&total_kib),
        "on-1's root is its own 64Mi disk: {df}"
    );
    let addrs = vm.ssh.ok(&[
        node, "exec", "on-1", "--", "ip", "-4", "addr", "show", "eth0",
    ]);
    assert!(addrs.contains("10.77.0.11/24"), "{addrs}");
    let ping = vm
        .ssh
        .ok(&["busybox", "ping", "-c", "1", "-W", "10", "10.77.0.11"]);
    assert!(ping.contains("1 packets received"), "{ping}");

    // The plan wants exactly what the reboot undid and the spec still asks for: off-1 started.
    let plan: serde_json::Value =
        serde_json::from_str(&cluster.fleet_ok(&["plan", "-f", spec, "-o", "json"])).unwrap();
    let steps: Vec<(String, String)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["container"].as_str().unwrap().to_owned(),
                s["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(steps, [("off-1".to_owned(), "start".to_owned())], "{plan}");
    assert_eq!(plan["in_sync"], 3, "{plan}");
    assert_eq!(plan["warnings"], serde_json::json!([]), "{plan}");
}
