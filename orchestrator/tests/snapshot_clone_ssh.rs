//! `fleet snapshot` and `fleet clone` over real sshd hosts on this machine, each with its own
//! node root: a snapshot, a change and a restore bring the old content back; a clone is the
//! spec's second container, started with the first one's data, beside it. What is refused (a
//! tag that exists, a tag the node lacks, a clone name taken or missing from the spec) says why
//! and changes nothing.

mod support;

use std::path::{Path, PathBuf};
use support::fleetctl::{Cleanup, command, expect, expect_no_changes};
use support::moves::{exec_ok, exec_ok_in, running_on, write};
use support::sshd::{Cluster, unique};

/// Runs `fleet ARGS -f SPEC` (no terminal); returns exit code, stdout and stderr.
fn fleet(spec: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command(args)
        .args(["-f", spec.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`fleet`], which must exit `code`; returns stdout and stderr.
#[track_caller]
fn fleet_exits(spec: &Path, args: &[&str], code: i32) -> (String, String) {
    let (got, out, err) = fleet(spec, args);
    assert_eq!(got, code, "fleet {args:?}: {out}{err}");
    (out, err)
}

#[test]
fn a_snapshot_a_change_and_a_restore_bring_the_old_content_back() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let spec = write(&cluster, &format!("snap-{}", unique()), 1);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    expect("apply", &spec, &["--yes"], 0);
    exec_ok(&spec, "echo one > /data.txt && sync");

    let (out, _) = fleet_exits(&spec, &["snapshot", "mover", "before"], 0);
    assert!(
        out.contains("mover: snapshot before taken on node-1 (") && out.contains("frozen"),
        "{out}"
    );
    // The same tag again is refused, and the snapshot is still the first one.
    let (_, err) = fleet_exits(&spec, &["snapshot", "mover", "before"], 1);
    assert!(
        err.contains("snapshot tag \"before\" exists already"),
        "{err}"
    );
    let (out, _) = fleet_exits(&spec, &["snapshot", "list", "-o", "json"], 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["container"], "mover");
    assert_eq!(rows[0]["host"], "node-1");
    assert_eq!(rows[0]["tag"], "before");
    assert_eq!(rows[0]["layer"], "disk");
    assert_eq!(rows[0]["was_running"], true);
    let (table, _) = fleet_exits(&spec, &["snapshot", "list", "mover"], 0);
    assert!(
        table.contains("mover") && table.contains("before"),
        "{table}"
    );

    exec_ok(&spec, "echo two > /data.txt && touch /made-since && sync");
    let pid = running_on(&cluster, 1).expect("running");
    // Without --yes and without a terminal, the restore (which restarts it) changes nothing;
    // an unknown tag is refused before anything is stopped.
    let (_, err) = fleet_exits(&spec, &["snapshot", "restore", "mover", "before"], 1);
    assert!(err.contains("pass --yes"), "{err}");
    let (_, err) = fleet_exits(&spec, &["snapshot", "restore", "mover", "nope", "--yes"], 1);
    assert!(
        err.contains("no snapshot tagged \"nope\"; it has before"),
        "{err}"
    );
    assert_eq!(running_on(&cluster, 1), Some(pid), "untouched");
    assert_eq!(exec_ok(&spec, "cat /data.txt"), "two\n");

    let (out, _) = fleet_exits(
        &spec,
        &["snapshot", "restore", "mover", "before", "--yes"],
        0,
    );
    assert!(
        out.contains("mover: snapshot before (taken ") && out.contains("and started again"),
        "{out}"
    );
    assert!(running_on(&cluster, 1).is_some_and(|p| p != pid));
    assert_eq!(exec_ok(&spec, "cat /data.txt"), "one\n");
    assert_eq!(
        exec_ok(&spec, "test -e /made-since && echo there || echo gone"),
        "gone\n"
    );
    // Owned by the container's root still.
    assert_eq!(exec_ok(&spec, "stat -c %u:%g /data.txt"), "0:0\n");
    expect_no_changes("plan", &spec, &[]);

    fleet_exits(&spec, &["snapshot", "delete", "mover", "before"], 0);
    let (_, out, _) = fleet(&spec, &["snapshot", "list", "mover", "-o", "json"]);
    assert_eq!(out.trim(), "[]");
    let (_, err) = fleet_exits(&spec, &["snapshot", "nobody"], 1);
    assert!(
        err.contains("the spec has no container named \"nobody\""),
        "{err}"
    );
}

/// The spec of the clone test in `file`: `mover` pinned to node-1 and the unpinned entries
/// `more` (name, whether it has a disk image) with the same memory.
fn clone_spec(cluster: &Cluster, fleet: &str, more: &[(&str, bool)], file: &str) -> PathBuf {
    let entry = |name: &str, host: &str, disk: bool| {
        format!(
            "  - name: {name}\n    template: busybox\n    \
             command: [\"/bin/sleep\", \"1000000\"]{host}\n    \
             resources:\n      memory: 64Mi\n{}",
            if disk {
                "      disk: {space: 64Mi}\n"
            } else {
                ""
            }
        )
    };
    let mut yaml = format!("apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n");
    yaml.push_str(&cluster.hosts_yaml(2, "{cpus: 64, memory: 64Gi, disk: 100Gi}"));
    yaml.push_str("containers:\n");
    yaml.push_str(&entry("mover", "\n    host: node-1", true));
    for (name, disk) in more {
        yaml.push_str(&entry(name, "", *disk));
    }
    let path = cluster.dir.path().join(file);
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_clone_starts_a_second_container_with_the_firsts_data_beside_it() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let name = format!("clone-{}", unique());
    let one = clone_spec(&cluster, &name, &[], "one.yaml");
    let two = clone_spec(&cluster, &name, &[("mover-copy", true)], "two.yaml");
    let bare = clone_spec(&cluster, &name, &[("mover-bare", false)], "bare.yaml");
    let _cleanup = Cleanup::new(&cluster, &[&two]);
    expect("apply", &one, &["--yes"], 0);
    exec_ok(&one, "echo kept > /kept.txt && sync");

    // A name the spec lacks, or one that is taken, is refused.
    let (_, err) = fleet_exits(&two, &["clone", "mover", "mover-cpy"], 1);
    assert!(
        err.contains(
            "the spec has no container named \"mover-cpy\" (did you mean \"mover-copy\"?)"
        ) && err.contains("nothing was changed"),
        "{err}"
    );
    let (_, err) = fleet_exits(&two, &["clone", "mover", "mover"], 1);
    assert!(
        err.contains("container \"mover\" already exists on node-1"),
        "{err}"
    );

    // The node refuses a clone whose spec asks for another kind of disk, before it makes it.
    let (_, err) = fleet_exits(&bare, &["clone", "mover", "mover-bare"], 1);
    assert!(
        err.contains("error: node-1: ") && err.contains("give both the same kind of disk"),
        "{err}"
    );
    let node_1 = cluster.dir.path().join("node-1/containers");
    assert!(!node_1.join("mover-bare").exists());

    // A dry run checks and says what it would make, and makes nothing.
    let (out, _) = fleet_exits(&two, &["clone", "mover", "mover-copy", "--dry-run"], 0);
    assert_eq!(
        out.trim(),
        "mover-copy: would be cloned from mover on node-1, then started (as the spec says); \
         nothing was changed (--dry-run)"
    );
    assert!(
        !node_1.join("mover-copy").exists(),
        "a dry run makes nothing"
    );

    let (out, _) = fleet_exits(&two, &["clone", "mover", "mover-copy"], 0);
    assert!(
        out.contains("mover-copy: cloned from mover on node-1, running (init pid "),
        "{out}"
    );
    assert!(node_1.join("mover-copy").exists(), "made beside its source");
    let exec_copy = |command: &str| exec_ok_in(&two, "mover-copy", command);
    assert_eq!(exec_copy("cat /kept.txt"), "kept\n");
    assert_eq!(exec_copy("stat -c %u:%g /kept.txt"), "0:0\n");
    exec_copy("echo changed > /kept.txt && sync");
    assert_eq!(
        exec_ok(&two, "cat /kept.txt"),
        "kept\n",
        "the original is its own"
    );
    // The spec's second container exists: the plan has nothing to do, and a second clone onto
    // it is refused.
    expect_no_changes("plan", &two, &[]);
    let (_, err) = fleet_exits(&two, &["clone", "mover", "mover-copy"], 1);
    assert!(
        err.contains("container \"mover-copy\" already exists on node-1"),
        "{err}"
    );
    assert_eq!(exec_copy("cat /kept.txt"), "changed\n");
}
