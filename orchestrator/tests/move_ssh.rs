//! Cold moves between two real sshd hosts on this machine, each with its own node root: the
//! real `fleet` moves a container whose pin changed, and its disk (a file written inside, and
//! random data so that the image travels in many chunks) arrives whole; a move whose target is
//! unreachable, or whose target's node is killed midway, leaves the container running on the
//! source, and the next apply finishes the move; a move to an unknown host or to one without room
//! is refused with the container untouched.

mod support;

use std::process::Command;
use std::time::Duration;

use support::fleetctl::{Cleanup, expect, expect_no_changes, stderr_of, wait_within};
use support::moves::{
    OnNode0, apply_the_cold_move, apply_until_the_import_begins, assert_back_on_node_0, exec_ok,
    running_on, write, write_with,
};
use support::sshd::{Cluster, unique};

#[test]
fn a_cold_move_keeps_the_files_written_inside() {
    let Some(t) = OnNode0::start("move", 4) else {
        return;
    };
    let (cluster, fleet, spec, sum) = (&t.cluster, &t.fleet, &t.spec, &t.sum);
    let pid_before = running_on(cluster, 0);

    write(cluster, fleet, 1);
    let plan = expect("plan", spec, &[], 0);
    assert!(
        plan.contains(
            "node-1:\n  > mover (move node-0 -> node-1, cold; CRIU is missing or fails `criu check` on the source)"
        ),
        "{plan}"
    );
    assert!(plan.contains("1 to move."), "{plan}");
    // Without --yes and without a terminal, a move (which stops the container) changes nothing.
    expect("apply", spec, &[], 1);
    assert_eq!(running_on(cluster, 0), pid_before);

    eprintln!("{}", apply_the_cold_move(cluster, spec, sum));
}

#[test]
fn a_move_cut_off_leaves_the_container_running_on_the_source_and_the_next_apply_finishes_it() {
    let Some(mut t) = OnNode0::start("move-cut", 24) else {
        return;
    };
    let (cluster, fleet, spec, sum) = (&mut t.cluster, &t.fleet, &t.spec, &t.sum);

    // The target is unreachable: nothing is stopped or sent.
    cluster.sshds[1].kill();
    write(cluster, fleet, 1);
    let pid = running_on(cluster, 0);
    let out = expect("apply", spec, &["--yes"], 1);
    assert!(out.contains("node-1: unreachable"), "{out}");
    assert_eq!(running_on(cluster, 0), pid, "untouched on node-0");
    cluster.sshds[1].resume();

    // The target's node is killed while the image travels (its PID is in the apply lock's
    // holder record, written when the import begins).
    let (child, node_pid) = apply_until_the_import_begins(cluster, spec);
    let killed = Command::new("kill")
        .args(["-KILL", &node_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // A cut-off move once hung here (a write to the killed node waited for its window).
    let out = wait_within(child, Duration::from_secs(300), "the cut-off apply");
    assert_back_on_node_0(
        cluster,
        &out,
        "lost the session with node-1 during the move",
    );

    // The next apply finishes the move.
    apply_the_cold_move(cluster, spec, sum);
}

#[test]
fn drain_moves_an_unpinned_container_off_its_host_and_it_stays_there() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let fleet = format!("drain-{}", unique());
    let spec = write_with(&cluster, &fleet, "", "");
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
    let err = stderr_of(&["drain", "node-9", "-f", spec_arg], 1);
    assert!(err.contains("the fleet has no host \"node-9\""), "{err}");
    let out = support::fleetctl::run(&["drain", &host, "-f", spec_arg, "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(running_on(&cluster, to).is_some(), "{text}");
    assert_eq!(exec_ok(&spec, "cat /kept.txt"), "kept\n");
    // The scheduler keeps a running container where it runs: the spec's apply leaves it there.
    expect_no_changes("plan", &spec, &[]);
}

#[test]
fn a_move_to_an_unknown_host_or_to_one_without_room_is_refused_and_changes_nothing() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let fleet = format!("move-room-{}", unique());
    // node-1's memory (64Gi in the spec, which the scheduler takes over what the node reports)
    // is all but taken by `hog` (stopped: the scheduler counts its limit all the same), so
    // `mover` (64Mi) fits only on node-0.
    let hog = "\n  - name: hog\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
               host: node-1\n    state: stopped\n    resources:\n      memory: 65504Mi";
    let spec = write_with(&cluster, &fleet, "", hog);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    let applied = expect("apply", &spec, &["--yes"], 0);
    let pid = running_on(&cluster, 0).unwrap_or_else(|| panic!("mover on node-0: {applied}"));
    let spec_arg = spec.to_str().unwrap();

    let err = stderr_of(&["move", "mover", "--to", "node-9", "-f", spec_arg], 1);
    assert!(
        err.contains("the fleet has no host \"node-9\" (hosts: node-0, node-1)"),
        "{err}"
    );
    let full =
        support::fleetctl::run(&["move", "mover", "--to", "node-1", "-f", spec_arg, "--yes"]);
    let out = String::from_utf8_lossy(&full.stdout);
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{out}{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("cannot be placed: pinned to host node-1") && said.contains("memory"),
        "{said}"
    );
    assert_eq!(running_on(&cluster, 0), Some(pid), "untouched on node-0");
    assert!(running_on(&cluster, 1).is_none());
    expect_no_changes("plan", &spec, &[]);
}
