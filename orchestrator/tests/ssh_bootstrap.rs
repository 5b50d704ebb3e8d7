//! `fleet bootstrap` over real sshds: installs fleet-node where it is missing (same bytes,
//! executable), leaves an identical one alone, and the installed node then answers `fleet plan`.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::fleetctl::{Cleanup, Set, expect, write_spec};
use support::sshd::{Cluster, fleet_node, skip_unless_ready};

#[test]
fn bootstrap_installs_then_is_idempotent_and_the_node_answers() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(2);
    let node = fleet_node().unwrap();
    let spec = write_spec(
        &cluster,
        "boot.yaml",
        "boot",
        &[Set {
            prefix: "b".into(),
            count: 1,
            host: 0,
            memory: "32Mi".into(),
        }],
    );
    // Point every host at a path where nothing is installed yet.
    let install_dir = cluster.dir.path().join("installed");
    let text = std::fs::read_to_string(&spec).unwrap();
    let mut fixed = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("path: ") {
            let dir = install_dir.join(format!("h{i}"));
            fixed.push_str(&format!("      path: {}/fleet-node\n", dir.display()));
        } else {
            fixed.push_str(line);
            fixed.push('\n');
        }
    }
    std::fs::write(&spec, fixed).unwrap();
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    // Before: the node is missing, and plan says what to do.
    let plan = support::fleetctl::run(&["plan", "-f", spec.to_str().unwrap()]);
    assert_eq!(plan.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(stderr.contains("fleet bootstrap"), "{stderr}");

    let node_arg = node.display().to_string();
    let out = expect("bootstrap", &spec, &["--node-binary", &node_arg], 0);
    assert_eq!(out.matches(": installed (sha256 ").count(), 2, "{out}");
    let want = std::fs::read(&node).unwrap();
    let mut installed = 0;
    for entry in walk(&install_dir) {
        if entry.file_name().is_some_and(|n| n == "fleet-node") {
            assert_eq!(std::fs::read(&entry).unwrap(), want, "{}", entry.display());
            let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{} is not executable", entry.display());
            installed += 1;
        } else {
            panic!("left behind: {}", entry.display());
        }
    }
    assert_eq!(installed, 2);

    let again = expect("bootstrap", &spec, &["--node-binary", &node_arg], 0);
    assert_eq!(again.matches(": up to date").count(), 2, "{again}");
    let plan = expect("plan", &spec, &[], 0);
    assert!(plan.contains("Plan: 1 to create"), "{plan}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
