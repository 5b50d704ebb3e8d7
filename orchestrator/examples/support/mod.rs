//! What the sshd benches (apply_bench, move_bench, ssh_bench) share: the tests' sshd cluster
//! (`tests/support/sshd.rs`), a spec over its hosts, and a timed run of the `fleet` built beside
//! the bench.

// Each bench uses a part of this module.
#![allow(dead_code)]

#[path = "../../tests/support/sshd.rs"]
pub mod sshd;

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the `fleet` built in the bench's own profile with `args`; returns its wall time and
/// stdout, and panics with both outputs when it fails.
pub fn fleet(args: &[&str]) -> (Duration, String) {
    let bin = sshd::target_dir().join("fleet");
    let start = Instant::now();
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "fleet {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, stdout)
}

/// Writes `file` in the cluster's directory: a spec of fleet `fleet` over the cluster's first
/// `hosts` hosts, each with `capacity` (a flow mapping), followed by `containers` (the
/// `containers:` key and its entries). Returns its path.
pub fn write_spec(
    cluster: &sshd::Cluster,
    file: &str,
    fleet: &str,
    hosts: usize,
    capacity: &str,
    containers: &str,
) -> String {
    let mut yaml = format!("apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n");
    yaml.push_str(&cluster.hosts_yaml(hosts, capacity));
    yaml.push_str(containers);
    let path = cluster.dir.path().join(file);
    std::fs::write(&path, yaml).expect("write spec");
    path.display().to_string()
}

/// Exits with the reason when the sshd cluster cannot run here, and panics unless `fleet` and
/// `fleet-node` are built in the bench's own profile (the benches time those binaries); returns
/// the bench's numeric arguments, in order.
pub fn ready() -> Vec<usize> {
    if let Some(why) = sshd::prerequisites() {
        eprintln!("cannot run: {why}");
        std::process::exit(1);
    }
    assert!(
        sshd::fleet_node().is_some() && sshd::target_dir().join("fleet").exists(),
        "build fleet and fleet-node in this profile first"
    );
    std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect()
}
