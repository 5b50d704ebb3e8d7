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
    node.create("half", &[]);
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
    assert_eq!(state["init_pid"], inits(&pids)[0], "repair recorded it");
    assert_eq!(
        node.ok(&["start", "orphan"]).trim(),
        "orphan: already running"
    );
}

#[test]
fn destroy_killed_midway_is_finished_by_the_next_command() {
    let Some(node) = Node::new() else { return };
    let pid = node.create_running("doomed");
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
    node.create("contended", &[]);
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
    assert_eq!(
        pids.len(),
        3,
        "the init, its command and the console keeper: {pids:?}"
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(node.container_dir("contended").join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["init_pid"], pid);
}

/// Sets `boot_id` in a container's state.json, as if its init had been started in another boot.
fn started_in_an_earlier_boot(node: &Node, name: &str) {
    let path = node.container_dir(name).join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["boot_id"] = "00000000-0000-0000-0000-000000000000".into();
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

/// What a reboot leaves (issue 11): every init gone (one stopped cleanly by the shutdown, one
/// killed as by a power cut, one never started) and no cgroup at all, the store intact. Each is
/// stopped, not broken; `boot` starts the onboot one with its limits; a start makes the cgroup
/// again; only a store entry missing its writable layer is broken.
#[test]
fn after_a_reboot_the_containers_without_init_and_cgroups_are_stopped() {
    let Some(node) = Node::new() else { return };
    let busybox = ["--template", "busybox"];
    node.ok(&[
        &["create", "on"][..],
        &busybox,
        &["--onboot", "--restart", "on-failure"],
    ]
    .concat());
    node.ok(&["set", "on", "--memory", "64Mi", "--pids", "50"]);
    node.ok(&[&["create", "off"][..], &busybox].concat());
    node.ok(&[&["create", "idle"][..], &busybox, &["--stopped"]].concat());

    // The shutdown stopped `off` cleanly; `on` lost its init with the host (kill -9 here, its
    // state saying it was started in the boot that ended).
    node.ok(&["stop", "off", "--timeout", "0"]);
    let on_init = node.init_pid("on");
    started_in_an_earlier_boot(&node, "on");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(on_init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alive(on_init) {
        assert!(
            std::time::Instant::now() < deadline,
            "init {on_init} did not die"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The new boot has no cgroup of the node at all.
    for dir in node.parent_dirs() {
        support::remove_cgroup_tree(&dir);
    }
    assert!(node.cgroup_dirs("on").iter().all(|d| !d.exists()));

    for name in ["on", "off", "idle"] {
        let s = node.status(name);
        assert_eq!(s["state"], "stopped", "{name} after the reboot: {s}");
        // An init that ended with the boot did not end on its own: nothing for the policy.
        assert_eq!(s["last_exit"], serde_json::Value::Null, "{name}: {s}");
    }
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&node.ok(&["list", "-o", "json"])).unwrap();
    assert!(list.iter().all(|c| c["state"] == "stopped"), "{list:?}");

    // The boot starts the onboot one, with its limits, in a cgroup made again.
    assert_eq!(node.ok(&["boot"]).trim(), "on: started");
    let on = node.status("on");
    assert_eq!(on["state"], "running", "{on}");
    assert_eq!(on["live"]["memory"], 64u64 << 20, "{on}");
    assert_eq!(on["live"]["pids"], 50, "{on}");
    assert!(node.cgroup_dirs("on").iter().all(|d| d.is_dir()));
    assert_eq!(node.status("off")["state"], "stopped");
    node.ok(&["start", "off"]);
    node.init_pid("off");

    // A real inconsistency: the writable layer of `idle` is gone.
    std::fs::remove_dir_all(node.container_dir("idle").join("upper")).unwrap();
    assert_eq!(node.status("idle")["state"], "broken");
}

#[test]
fn a_batch_start_that_can_neither_restore_nor_start_a_cut_off_live_move_fails() {
    let Some(node) = Node::new() else { return };
    // A live move cut off after its dump, whose dump is lost, of a container that cannot
    // start: the put-back finds nothing to restore, and the start afresh fails too.
    node.create("gone", &["--stopped", "--", "/no/such/command"]);
    let mark = node.container_dir("gone").join("moving.json");
    std::fs::write(&mark, r#"{"to":"b","was_running":true,"live":true}"#).unwrap();

    let err = node_runtime::transfer::start(&node.runtime(), "gone")
        .expect_err("the batch must not report it started")
        .to_string();
    assert!(
        err.contains("no dump was kept") && err.contains("starting it afresh failed too"),
        "{err}"
    );
    let status = node.status("gone");
    assert_ne!(status["state"], "running", "{status}");
    assert!(
        !mark.exists(),
        "its dump is gone, so the mark no longer says it moves live"
    );
}
