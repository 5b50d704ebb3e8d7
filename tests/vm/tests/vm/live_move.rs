//! Issue 12 between real hosts: a live move from vm-0 to vm-1 with Debian 12's own criu (the
//! image's `criu` package; both nodes say in their hello that it passes `criu check`). A pin
//! changed in the spec makes `fleet plan` say `(move vm-0 -> vm-1, live)`, and `fleet apply`
//! carries the running container across: its shell's in-memory counter goes on (not reset)
//! with the same PID in its namespace, and the TCP connection it streams the counter over (to
//! a listener in the container, on its loopback) loses nothing; the downtime is in the
//! report's JSON.
//!
//! The phase's nodes use a root and cgroup parent of their own on both VMs
//! (`/var/lib/fleet-live`, `fleet-live`): a restored tree keeps the user namespace it was
//! dumped with, so the target must have the source's uid range free (docs/reconciler.md, Known
//! gaps), and fresh roots make that so whatever the other phases left on either VM.

use std::time::Duration;

use fleet_vm::Cluster;

/// Where the container starts and where it moves.
const FROM: &str = "vm-0";
const TO: &str = "vm-1";

/// As tests/move_live_ssh.rs: the listener reads a pipe that never ends (a background job's
/// stdin is /dev/null, at whose end busybox nc would close the connection).
const SCRIPT: &str = "echo $$ > /tmp/pid; sleep 2147483647 | nc -l -p 7000 > /tmp/received & \
                      sleep 0.5; i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; \
                      echo $i; sleep 0.2; done | nc 127.0.0.1 7000";

/// The spec with the container pinned to `host`, over both VMs with the phase's own node roots.
fn write(cluster: &Cluster, host: &str) -> String {
    let containers = format!(
        "  - name: counter\n    template: busybox\n    command: [\"/bin/sh\", \"-c\", {SCRIPT:?}]\n    \
         host: {host}\n    resources: {{memory: 64Mi, cpu: {{limit: 10%}}, disk: {{space: 64Mi}}}}\n"
    );
    let path = cluster.write_spec_on("live.yaml", "live", &[FROM, TO], &containers);
    let text = std::fs::read_to_string(&path).unwrap();
    let own = "root: /var/lib/fleet-live, cgroup_parent: fleet-live";
    let mut out = String::new();
    let mut pending_host = false;
    for line in text.lines() {
        if let Some(path) = line
            .strip_prefix("    node: {path: ")
            .and_then(|r| r.strip_suffix('}'))
        {
            out.push_str(&format!("    node: {{path: {path}, {own}}}\n"));
            pending_host = false;
            continue;
        }
        let next_entry = line.starts_with("  - name: ") || line.starts_with("containers:");
        if pending_host && next_entry {
            out.push_str(&format!("    node: {{{own}}}\n"));
            pending_host = false;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("  - name: vm-") {
            pending_host = true;
        }
    }
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

/// `fleet exec` of `sh -c command` in the container; its stdout, trimmed.
fn exec(cluster: &Cluster, spec: &str, command: &str) -> String {
    let out = cluster.fleet_ok(&[
        "exec", "-f", spec, "counter", "--", "/bin/sh", "-c", command,
    ]);
    out.trim().to_owned()
}

/// The counter, the counting shell's PID in the container, and the numbers the listener got.
fn look(cluster: &Cluster, spec: &str) -> (u64, String, Vec<u64>) {
    let out = exec(
        cluster,
        spec,
        "cat /tmp/counter; cat /tmp/pid; cat /tmp/received",
    );
    let mut lines = out.lines();
    let counter = lines.next().and_then(|l| l.trim().parse().ok()).unwrap();
    let pid = lines.next().unwrap_or_default().trim().to_owned();
    let received = lines.filter_map(|l| l.trim().parse().ok()).collect();
    (counter, pid, received)
}

/// The phase. Returns the move's figures from the report (`moves[0]`).
pub fn a_live_move_keeps_the_counter_and_the_connection(cluster: &Cluster) -> serde_json::Value {
    let spec = write(cluster, FROM);
    let hosts: serde_json::Value =
        serde_json::from_str(&cluster.fleet_ok(&["get", "hosts", "-f", &spec, "-o", "json"]))
            .unwrap();
    eprintln!("fleet-vm: hosts for the live move: {hosts}");
    cluster.fleet_ok(&["apply", "-f", &spec, "--yes"]);
    std::thread::sleep(Duration::from_secs(3));
    let (before, pid, _) = look(cluster, &spec);
    assert!(before > 0, "the counter counts");

    write(cluster, TO);
    let plan = cluster.fleet_ok(&["plan", "-f", &spec]);
    assert!(
        plan.contains(&format!("> counter (move {FROM} -> {TO}, live)")),
        "{plan}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&cluster.fleet_ok(&["apply", "-f", &spec, "--yes", "-o", "json"]))
            .unwrap();
    let moved = report["moves"][0].clone();
    assert_eq!(moved["live"], true, "{report:#}");
    assert_eq!(moved["to"], TO, "{report:#}");
    eprintln!("fleet-vm: live move {FROM} -> {TO} with Debian's criu: {moved}");

    std::thread::sleep(Duration::from_secs(2));
    let (after, pid_after, received) = look(cluster, &spec);
    assert!(
        after > before,
        "the counter went on from {before} (not reset): {after}"
    );
    assert_eq!(pid_after, pid, "the same shell counts");
    assert!(
        received.iter().enumerate().all(|(i, &n)| n == i as u64 + 1)
            && received.last().is_some_and(|&n| n > before),
        "the connection carried on without a gap or a repeat: {received:?}"
    );
    let again = cluster.fleet_ok(&["plan", "-f", &spec]);
    assert!(again.contains("No changes."), "{again}");
    cluster.fleet_ok(&["destroy", "-f", &spec, "--yes"]);
    moved
}
