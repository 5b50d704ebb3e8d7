//! Issue 12 between real hosts: a live move from vm-0 to vm-1 with Debian 12's own criu (the
//! image's `criu` package; both nodes say in their hello that it passes `criu check`). A pin
//! changed in the spec makes `fleet plan` say `(move vm-0 -> vm-1, live)`, and `fleet apply`
//! carries the running container across: its shell's in-memory counter goes on (not reset)
//! with the same PID in its namespace, and the TCP connection it streams the counter over (to
//! a listener in the container, on its loopback) loses nothing; the downtime is in the
//! report's JSON. The VMs' kernel tracks dirty memory, so the move pre-dumps the container's
//! memory (its shell holds a 4 MB string) while it runs, and the report gives at least one
//! round; the move back, with pre-dumps turned off (`FLEET_PRE_DUMPS=0`), says why there was
//! none: the two downtimes side by side (docs/node-runtime.md, "Pre-dumps").
//!
//! The phase's nodes use a root and cgroup parent of their own on both VMs
//! (`/var/lib/fleet-live`, `fleet-live`): a restored tree keeps the user namespace it was
//! dumped with, so the target must have the source's uid range free (docs/reconciler.md, Known
//! gaps), and fresh roots make that so whatever the other phases left on either VM.

use std::time::Duration;

use fleet_vm::Cluster;

#[path = "../../../../orchestrator/tests/support/counter.rs"]
mod counter;
use counter::{assert_no_pre_dump, assert_went_on};

/// Where the container starts and where it moves.
const FROM: &str = "vm-0";
const TO: &str = "vm-1";

/// As tests/move_live_ssh.rs: the listener reads a pipe that never ends (a background job's
/// stdin is /dev/null, at whose end busybox nc would close the connection).
/// The shell first fills a variable with 4 MB, memory for the pre-dumps to copy ahead.
const SCRIPT: &str = "echo $$ > /tmp/pid; sleep 2147483647 | nc -l -p 7000 > /tmp/received & \
                      blob=$(head -c 4000000 /dev/zero | tr '\\0' y); \
                      sleep 0.5; i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; \
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

/// The counter, the counting shell's PID in the container, and the numbers the listener got;
/// each file labelled, so that one not written yet (the shell fills its 4 MB first) reads as
/// nothing rather than as the next file's line.
fn look(cluster: &Cluster, spec: &str) -> (u64, String, Vec<u64>) {
    let out = exec(
        cluster,
        spec,
        "echo counter=$(cat /tmp/counter); echo pid=$(cat /tmp/pid); cat /tmp/received",
    );
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let counter = field("counter=").parse().unwrap_or(0);
    let pid = field("pid=");
    let received = out
        .lines()
        .filter(|l| !l.contains('='))
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    (counter, pid, received)
}

/// Waits until the container counts and its listener has received numbers.
fn wait_counting(cluster: &Cluster, spec: &str) {
    for _ in 0..60 {
        let (counter, pid, received) = look(cluster, spec);
        if counter > 0 && !pid.is_empty() && !received.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("the container did not start counting");
}

/// Moves the container to `to` live (`env` for fleet), checks that its counter, shell and
/// connection went on, and returns the move's figures from the report (`moves[0]`).
fn move_live(
    cluster: &Cluster,
    spec_to: &str,
    to: &str,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let (before, pid, _) = look(cluster, spec_to);
    assert!(before > 0 && !pid.is_empty(), "the counter counts");
    let plan = cluster.fleet_ok(&["plan", "-f", spec_to]);
    assert!(plan.contains(&format!(" -> {to}, live)")), "{plan}");
    let out = cluster.fleet_with_env(&["apply", "-f", spec_to, "--yes", "-o", "json"], env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let moved = report["moves"][0].clone();
    assert_eq!(moved["live"], true, "{report:#}");
    assert_eq!(moved["to"], to, "{report:#}");
    eprintln!("fleet-vm: live move to {to} with Debian's criu: {moved}");

    std::thread::sleep(Duration::from_secs(2));
    assert_went_on(before, &pid, look(cluster, spec_to));
    moved
}

/// The phase: there with pre-dumps, back without. Returns both moves' figures.
pub fn a_live_move_keeps_the_counter_and_the_connection(cluster: &Cluster) -> serde_json::Value {
    let spec = write(cluster, FROM);
    let hosts: serde_json::Value =
        serde_json::from_str(&cluster.fleet_ok(&["get", "hosts", "-f", &spec, "-o", "json"]))
            .unwrap();
    eprintln!("fleet-vm: hosts for the live move: {hosts}");
    cluster.fleet_ok(&["apply", "-f", &spec, "--yes"]);
    wait_counting(cluster, &spec);

    write(cluster, TO);
    let there = move_live(cluster, &spec, TO, &[]);
    // The VMs track dirty memory: at least one round, each with pages and bytes, in order.
    let rounds = there["pre_dumps"].as_array().cloned().unwrap_or_default();
    assert!(!rounds.is_empty(), "no pre-dump round: {there:#}");
    for (i, round) in rounds.iter().enumerate() {
        assert_eq!(round["round"], i as u64 + 1, "{there:#}");
        assert!(round["pages"].as_u64() > Some(0), "{there:#}");
        assert!(round["bytes"].as_u64() > Some(0), "{there:#}");
    }
    // Round 1 copied the 4 MB string (977 pages) and the rest of the container's memory.
    assert!(rounds[0]["pages"].as_u64() > Some(977), "{there:#}");
    assert!(there["pre_dumps_stopped"].is_string(), "{there:#}");

    write(cluster, FROM);
    let back = move_live(cluster, &spec, FROM, &[("FLEET_PRE_DUMPS", "0")]);
    assert_no_pre_dump(&back, "FLEET_PRE_DUMPS=0");
    eprintln!(
        "fleet-vm: live move downtime with {} pre-dump rounds {} ms (frozen {} ms, restore {} ms, \
         dump {} bytes); without {} ms (frozen {} ms, restore {} ms, dump {} bytes)",
        rounds.len(),
        there["downtime_ms"],
        there["frozen_ms"],
        there["restore_ms"],
        there["checkpoint_bytes"],
        back["downtime_ms"],
        back["frozen_ms"],
        back["restore_ms"],
        back["checkpoint_bytes"],
    );

    cluster.assert_converged(&spec);
    cluster.fleet_ok(&["destroy", "-f", &spec, "--yes"]);
    serde_json::json!({ "pre_dumps": there, "without": back })
}
