//! Crash repair: fleet-node killed between two steps of create, start or destroy (through the
//! test-only FLEET_NODE_CRASH_AFTER hook); the next command sees the truth from the store,
//! /proc and the cgroup, and finishes or rolls back. Also: two commands on one container at once
//! are serialized.

mod support;

use support::{Node, alive, proc_status};

/// The processes of `pids` that are PID 1 of their namespace (the builtin init's command is
/// the other process in the cgroup).
fn inits(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|p| proc_status(*p, "NSpid").split_whitespace().last() == Some("1"))
        .collect()
}

const CRASH: &str = node_runtime::container::CRASH_AFTER_ENV;

fn crash_create(node: &Node, step: &str, name: &str) {
    let out = node
        .command(&["create", name, "--template", "busybox"])
        .env(CRASH, step)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(86),
        "create should die after {step}"
    );
}

#[test]
fn create_killed_before_the_spec_is_stored_is_rolled_back() {
    let Some(node) = Node::new() else { return };
    crash_create(&node, "dir", "half");
    assert!(node.container_dir("half").exists());
    assert_eq!(node.ok(&["list", "-o", "json"]).trim(), "[]");
    assert!(!node.container_dir("half").exists(), "debris removed");
    node.ok(&["create", "half", "--template", "busybox"]);
    node.init_pid("half");
}

#[test]
fn create_killed_after_the_spec_is_stored_is_finished() {
    let Some(node) = Node::new() else { return };
    for (step, name) in [("config", "after-config"), ("cgroup", "after-cgroup")] {
        crash_create(&node, step, name);
        assert!(node.run(&["status", name]).status.success());
        assert_eq!(
            node.status(name)["state"],
            "stopped",
            "create finished, not started yet"
        );
        assert!(node.cgroup_dirs(name).iter().all(|d| d.is_dir()));
        assert_eq!(
            node.ok(&["create", name, "--template", "busybox"]).trim(),
            format!("{name}: created")
        );
        node.init_pid(name);
        assert_eq!(
            node.ok(&["create", name, "--template", "busybox"]).trim(),
            format!("{name}: unchanged")
        );
    }
}

#[test]
fn start_killed_before_recording_init_finds_init_in_the_cgroup() {
    let Some(node) = Node::new() else { return };
    crash_create(&node, "spawned", "orphan");
    // create writes state.json once, with init's pid: the crash came before that.
    assert!(!node.container_dir("orphan").join("state.json").exists());
    let pids = node.runtime().cgroup("orphan").pids();
    assert_eq!(inits(&pids).len(), 1, "one init runs: {pids:?}");
    assert_eq!(node.init_pid("orphan"), inits(&pids)[0]);
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(node.container_dir("orphan").join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["init_pid"], pids[0], "repair recorded it");
    assert_eq!(
        node.ok(&["start", "orphan"]).trim(),
        "orphan: already running"
    );
}

#[test]
fn destroy_killed_midway_is_finished_by_the_next_command() {
    let Some(node) = Node::new() else { return };
    node.ok(&["create", "doomed", "--template", "busybox"]);
    let pid = node.init_pid("doomed");
    let dirs = node.cgroup_dirs("doomed");
    let out = node
        .command(&["destroy", "doomed"])
        .env(CRASH, "destroying")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(86));
    assert!(alive(pid), "the crash came before the kill");
    assert_eq!(node.ok(&["list", "-o", "json"]).trim(), "[]");
    assert!(!alive(pid));
    assert!(dirs.iter().all(|d| !d.exists()));
    assert!(!node.container_dir("doomed").exists());
}

#[test]
fn concurrent_commands_on_one_container_are_serialized() {
    let Some(node) = Node::new() else { return };
    node.ok(&["create", "contended", "--template", "busybox"]);
    std::thread::scope(|s| {
        for i in 0..4 {
            let node = &node;
            s.spawn(move || {
                for _ in 0..3 {
                    let verb = ["restart", "stop", "start", "status"][i];
                    let mut args = vec![verb, "contended"];
                    if verb != "start" && verb != "status" {
                        args.extend(["--timeout", "0"]);
                    }
                    node.ok(&args);
                }
            });
        }
    });
    node.ok(&["start", "contended"]);
    let pid = node.init_pid("contended");
    let pids = node.runtime().cgroup("contended").pids();
    assert_eq!(inits(&pids), vec![pid], "exactly one init");
    assert_eq!(pids.len(), 2, "the init and its command: {pids:?}");
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(node.container_dir("contended").join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["init_pid"], pid);
}
