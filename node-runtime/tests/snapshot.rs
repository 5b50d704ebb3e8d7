//! Snapshots and clones, for real: a snapshot taken while the container runs brings the old
//! content back after a change (on the plain upper layer and on a container's own disk image);
//! a clone starts a second container with the first one's data and a uid range of its own.
//! Bad input (a tag that exists, a clone name taken, a bridged source without a new address,
//! a restore while running) is a clear error that changes nothing.

mod support;

use fleet_protocol::{ContainerSpec, DesiredState, NetworkMode, NetworkSpec, TemplateRef};
use node_runtime::checkpoint::clone::{self, CloneOptions};
use support::Node;

fn spec(name: &str, disk: Option<u64>) -> ContainerSpec {
    ContainerSpec {
        resources: fleet_protocol::Resources {
            disk_space: disk,
            ..Default::default()
        },
        ..ContainerSpec::new(
            "snaptest",
            name,
            TemplateRef::Busybox,
            vec!["sleep".into(), "infinity".into()],
        )
    }
}

fn write(node: &Node, name: &str, path: &str, text: &str) {
    node.exec(name, &["sh", "-c", &format!("echo {text} > {path}")]);
}

fn snapshot_restore_brings_the_old_content_back(node: &Node, name: &str) {
    write(node, name, "/root/data", "one");
    let out = node.ok(&["snapshot", name, "t1"]);
    assert!(out.contains("snapshot t1 taken"), "{out}");
    write(node, name, "/root/data", "two");
    write(node, name, "/root/new", "later");

    // A tag that exists: refused, and the snapshot is unchanged.
    let err = node.fails(&["snapshot", name, "t1"]);
    assert!(err.contains("exists already"), "{err}");
    let err = node.fails(&["snapshot", "restore", name, "t1"]);
    assert!(
        err.contains("running") && err.contains("stop it first"),
        "{err}"
    );
    assert_eq!(node.exec(name, &["cat", "/root/data"]).trim(), "two");

    node.ok(&["stop", name, "--timeout", "0"]);
    node.ok(&["snapshot", "restore", name, "t1"]);
    node.ok(&["start", name]);
    assert_eq!(node.exec(name, &["cat", "/root/data"]).trim(), "one");
    assert!(
        !node
            .run(&["exec", name, "--", "test", "-e", "/root/new"])
            .status
            .success(),
        "a file made after the snapshot is gone"
    );

    let list: serde_json::Value =
        serde_json::from_str(&node.ok(&["snapshot", "list", name, "-o", "json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["tag"], "t1");
    assert_eq!(list[0]["was_running"], true);
    node.ok(&["snapshot", "delete", name, "t1"]);
    let err = node.fails(&["snapshot", "restore", name, "t1"]);
    assert!(err.contains("no snapshot tagged \"t1\""), "{err}");
    let err = node.fails(&["snapshot", name, "../t"]);
    assert!(err.contains("invalid snapshot tag"), "{err}");
}

#[test]
fn a_snapshot_of_the_upper_layer_brings_the_old_content_back() {
    let Some(node) = Node::new() else { return };
    node.runtime().create(&spec("snap1", None)).unwrap();
    snapshot_restore_brings_the_old_content_back(&node, "snap1");
}

#[test]
fn a_snapshot_of_a_disk_image_brings_the_old_content_back() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    node.runtime()
        .create(&spec("snap2", Some(64 << 20)))
        .unwrap();
    snapshot_restore_brings_the_old_content_back(&node, "snap2");
}

fn uid_base(node: &Node, name: &str) -> String {
    let pid = node.init_pid(name);
    std::fs::read_to_string(format!("/proc/{pid}/uid_map"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

#[test]
fn a_clone_starts_with_the_first_ones_data_and_its_own_uid_range() {
    let Some(node) = Node::new() else { return };
    for (src, disk) in [("orig1", None), ("orig2", Some(64 << 20))] {
        if disk.is_some() && !std::path::Path::new("/dev/loop-control").exists() {
            support::cannot_run("no loop devices");
            continue;
        }
        node.runtime().create(&spec(src, disk)).unwrap();
        write(&node, src, "/root/data", "from-the-original");
        let dst = format!("{src}-copy");
        let out = node.ok(&["clone", src, &dst, "--start"]);
        assert!(out.contains("cloned"), "{out}");
        assert_eq!(
            node.exec(&dst, &["cat", "/root/data"]).trim(),
            "from-the-original"
        );
        assert_ne!(uid_base(&node, src), uid_base(&node, &dst), "its own range");
        // Inside, the copied file belongs to the clone's root.
        let owner = node.exec(&dst, &["stat", "-c", "%u", "/root/data"]);
        assert_eq!(owner.trim(), "0");
        write(&node, &dst, "/root/data", "changed-in-the-copy");
        assert_eq!(
            node.exec(src, &["cat", "/root/data"]).trim(),
            "from-the-original",
            "the original is untouched"
        );
        // The name is taken now: refused, nothing changed.
        let err = node.fails(&["clone", src, &dst]);
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            node.exec(&dst, &["cat", "/root/data"]).trim(),
            "changed-in-the-copy"
        );
    }
}

#[test]
fn a_bridged_source_needs_a_new_address_for_its_clone() {
    let Some(node) = Node::new() else { return };
    let runtime = node.runtime();
    let mut bridged = spec("addr1", None);
    bridged.state = DesiredState::Stopped;
    bridged.network = NetworkSpec {
        mode: NetworkMode::Bridged,
        bridge: Some("flsnap0".into()),
        addresses: vec!["10.85.0.2/24".into()],
        gateway: Some("10.85.0.1".into()),
    };
    runtime.create(&bridged).unwrap();
    let err = clone::clone(&runtime, "addr1", "addr2", &CloneOptions::default()).unwrap_err();
    assert!(err.to_string().contains("--address"), "{err}");
    assert!(runtime.store.read_config("addr2").unwrap().is_none());
    let made = clone::clone(
        &runtime,
        "addr1",
        "addr2",
        &CloneOptions {
            addresses: vec!["10.85.0.3/24".into()],
            start: false,
        },
    )
    .unwrap();
    assert_eq!(made.network.addresses, ["10.85.0.3/24"]);
    assert_eq!(made.hostname, "addr2");
}
