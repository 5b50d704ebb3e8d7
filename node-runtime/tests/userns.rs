//! Unprivileged by default: each container's root is its own unprivileged host uid range,
//! allocated node-wide and persistently (the range the name prefers), stable across restarts,
//! freed at destroy, never given to two live containers; a used-up pool refuses a create and
//! keeps nothing; `--privileged` is the opt-out; a config stored before the default changed is
//! read as it ran; the hello counts the free ranges and says who holds which; a shifted
//! template copy works where idmapped mounts cannot. Who owns what (cgroup files, the
//! privileged switch): tests/userns_ownership.rs.

mod support;

use std::os::unix::fs::MetadataExt;

use support::{Node, busybox, proc_status, uid_map};

fn gid_map(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/gid_map"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The node's range record: container -> base.
fn ranges(node: &Node) -> serde_json::Value {
    let path = node.root.path().join("userns-ranges.json");
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap()["ranges"].clone(),
        Err(_) => serde_json::json!({}),
    }
}

#[test]
fn each_default_container_is_its_own_unprivileged_range_stable_across_restarts() {
    let Some(node) = Node::new() else { return };
    node.create("a", &[]);
    node.create("b", &[]);
    let (pa, pb) = (node.init_pid("a"), node.init_pid("b"));
    let (inside, base_a, count) = uid_map(pa);
    assert_eq!((inside, count), (0, 65536), "container root, 65536 ids");
    assert!(base_a >= 100_000, "an unprivileged host uid: {base_a}");
    assert_eq!(gid_map(pa), format!("0 {base_a} 65536"));
    let base_b = uid_map(pb).1;
    assert!(
        base_b.abs_diff(base_a) >= 65536,
        "ranges do not overlap: {base_a} and {base_b}"
    );
    assert!(
        proc_status(pa, "Uid").starts_with(&base_a.to_string()),
        "the host sees init as uid {base_a}"
    );
    assert_eq!(node.exec("a", &["id", "-u"]).trim(), "0", "root inside");
    assert_eq!(ranges(&node)["a"], base_a);

    // Files made inside belong to the range on the host, and the template's are container
    // root's inside (usable, changeable through copy-up).
    node.exec(
        "a",
        &[
            "sh",
            "-c",
            "echo x > /made-inside && chown 1000:1000 /made-inside && touch /etc/passwd",
        ],
    );
    let upper = node.container_dir("a").join("upper");
    let made = std::fs::metadata(upper.join("made-inside")).unwrap();
    assert_eq!(
        (made.uid(), made.gid()),
        (base_a as u32 + 1000, base_a as u32 + 1000)
    );
    assert_eq!(
        std::fs::metadata(upper.join("etc/passwd")).unwrap().uid(),
        base_a as u32,
        "copied up as container root"
    );
    assert_eq!(
        node.exec("a", &["stat", "-c", "%u:%g", "/bin/busybox"])
            .trim(),
        "0:0",
        "the template is root's inside"
    );
    let copies: Vec<String> = std::fs::read_dir(node.root.path().join("templates"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-uid"))
        .collect();
    if node_runtime::container::lower_layers() == node_runtime::container::LowerLayers::Idmapped {
        assert!(
            copies.is_empty(),
            "one shared template, idmapped: {copies:?}"
        );
    } else {
        assert_eq!(copies.len(), 2, "a shifted copy per range: {copies:?}");
    }
    // A directory of the template can be removed and made again (overlay metadata inside a
    // user namespace).
    node.exec(
        "a",
        &[
            "sh",
            "-c",
            "rm -rf /etc && mkdir /etc && test ! -e /etc/passwd",
        ],
    );

    node.ok(&["stop", "a", "--timeout", "0"]);
    node.ok(&["start", "a"]);
    assert_eq!(
        uid_map(node.init_pid("a")).1,
        base_a,
        "stable across stop and start"
    );
    node.ok(&["restart", "a", "--timeout", "0"]);
    assert_eq!(uid_map(node.init_pid("a")).1, base_a, "and across restart");
    assert_eq!(
        node.exec("a", &["stat", "-c", "%u", "/made-inside"]).trim(),
        "1000"
    );
}

#[test]
fn a_range_is_freed_at_destroy_and_never_given_to_two_live_containers() {
    let Some(node) = Node::new() else { return };
    for name in ["a", "b", "c"] {
        node.create(name, &["--stopped"]);
    }
    let held = ranges(&node);
    let base = |n: &str| held[n].as_u64().unwrap();
    let mut bases = vec![base("a"), base("b"), base("c")];
    bases.sort();
    bases.dedup();
    assert_eq!(bases.len(), 3, "held from create on, one each: {held}");
    node.ok(&["destroy", "b"]);
    assert!(ranges(&node).get("b").is_none(), "freed at destroy");
    node.create("b", &["--stopped"]);
    assert_eq!(
        ranges(&node)["b"].as_u64().unwrap(),
        base("b"),
        "freed, and the same name prefers the same range again"
    );
    node.create("d", &[]);
    let d = ranges(&node)["d"].as_u64().unwrap();
    assert_eq!(uid_map(node.init_pid("d")).1, d);
    for other in ["a", "b", "c"] {
        assert_ne!(d, base(other), "d's range is not {other}'s");
    }
    // The record is the truth even when a state.json is damaged.
    std::fs::write(node.container_dir("a").join("state.json"), b"{ damaged").unwrap();
    node.create("e", &["--stopped"]);
    assert_ne!(ranges(&node)["e"], base("a"), "a's range stays a's");
    // (An unreadable state.json, as a power cut can leave one, is a create to finish.)
    node.ok(&["start", "a"]);
    assert_eq!(
        uid_map(node.init_pid("a")).1,
        base("a"),
        "and a starts in it"
    );
}

#[test]
fn a_used_up_pool_refuses_the_create_and_keeps_nothing_of_it() {
    let Some(node) = Node::new() else { return };
    let pool = format!("--uid-pool=200000-{}", 200_000 + 2 * 65536);
    node.ok(&[&pool, "create", "a", "--template", "busybox"]);
    node.ok(&[&pool, "create", "b", "--template", "busybox", "--stopped"]);
    let before = ranges(&node);
    let err = node.fails(&[&pool, "create", "c", "--template", "busybox"]);
    assert!(
        err.contains("no free uid range for container \"c\""),
        "{err}"
    );
    assert!(err.contains("200000-331072"), "names the pool: {err}");
    assert!(
        err.contains("privileged: true"),
        "says what would work: {err}"
    );
    assert!(!node.container_dir("c").exists(), "nothing of c is left");
    assert_eq!(ranges(&node), before, "the record is unchanged");
    node.fails(&["status", "c"]);
    assert!(
        node.runtime()
            .cgroup("c")
            .dirs()
            .iter()
            .all(|d| !d.exists())
    );
    // A privileged container needs no range.
    node.ok(&[
        &pool,
        "create",
        "c",
        "--template",
        "busybox",
        "--privileged",
    ]);
    // A bad pool is refused before anything is done.
    let err = node.fails(&["--uid-pool=10-20", "create", "x", "--template", "busybox"]);
    assert!(err.contains("starts below 65536"), "{err}");
}

#[test]
fn privileged_is_the_opt_out_with_host_ids() {
    let Some(node) = Node::new() else { return };
    node.create("p", &["--privileged"]);
    let pid = node.init_pid("p");
    assert_eq!(uid_map(pid), (0, 0, 4_294_967_295), "no user namespace");
    assert!(proc_status(pid, "Uid").starts_with("0\t"), "host root");
    assert!(ranges(&node).get("p").is_none(), "holds no range");
    node.exec("p", &["sh", "-c", "echo x > /made-inside"]);
    let upper = node.container_dir("p").join("upper");
    assert_eq!(
        std::fs::metadata(upper.join("made-inside")).unwrap().uid(),
        0
    );
}

#[test]
fn a_config_stored_before_the_default_changed_runs_as_it_ran() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox("old", &["--privileged", "--stopped"], &[]));
    // What an older fleet-node wrote: no `privileged`, `user_namespace: false`.
    let path = node.container_dir("old").join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let object = config.as_object_mut().unwrap();
    object.remove("privileged");
    object.insert("user_namespace".into(), false.into());
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    node.ok(&["start", "old"]);
    assert_eq!(
        uid_map(node.init_pid("old")),
        (0, 0, 4_294_967_295),
        "still privileged"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&node.ok(&["list", "-o", "json"])).unwrap();
    let spec = &listed[0]["spec"];
    assert_eq!(spec["privileged"], true, "reported as it runs: {listed}");
}

#[test]
fn the_hello_reports_how_many_ranges_are_free() {
    let Some(node) = Node::new() else { return };
    let pool = format!("--uid-pool=300000-{}", 300_000 + 3 * 65536);
    let free = |node: &Node| {
        let hello = serde_json::json!({"id": 1, "body": {"type": "hello",
            "protocol_version": fleet_protocol::PROTOCOL_VERSION, "client": "t"}})
        .to_string();
        let mut frame = (hello.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(hello.as_bytes());
        let out = node.run_with_input(&[&pool, "serve", "--stdio"], &frame);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout[4..]).unwrap();
        reply["body"]["capacity"].clone()
    };
    assert_eq!(free(&node)["uid_ranges_free"], 3);
    node.ok(&[&pool, "create", "a", "--template", "busybox", "--stopped"]);
    let capacity = free(&node);
    assert_eq!(capacity["uid_ranges_free"], 2, "held from create on");
    // Who holds what, for the plan's check of a live move into this node.
    let reported = &capacity["uid_ranges"];
    assert_eq!(reported["pool_start"], 300_000, "{capacity}");
    assert_eq!(reported["pool_end"], 300_000 + 3 * 65536);
    assert_eq!(reported["held"], ranges(&node), "{capacity}");
    node.ok(&[&pool, "destroy", "a"]);
    let capacity = free(&node);
    assert_eq!(capacity["uid_ranges_free"], 3);
    assert_eq!(capacity["uid_ranges"]["held"], serde_json::json!({}));
}

#[test]
fn where_idmapped_mounts_cannot_be_used_a_shifted_copy_per_range_works_the_same() {
    let Some(node) = Node::new() else { return };
    let run =
        |args: &[&str]| node.ok_with_env(args, &[(node_runtime::container::SHIFTED_ENV, "1")]);
    run(&["create", "s", "--template", "busybox"]);
    let base = uid_map(node.init_pid("s")).1 as u32;
    let copy = node
        .root
        .path()
        .join(format!("templates/busybox-uid{base}"));
    assert_eq!(
        std::fs::metadata(copy.join("bin/busybox")).unwrap().uid(),
        base,
        "shifted copy"
    );
    assert_eq!(
        node.exec("s", &["stat", "-c", "%u", "/bin/busybox"]).trim(),
        "0"
    );
    node.exec(
        "s",
        &["sh", "-c", "touch /etc/passwd && rm -rf /etc && mkdir /etc"],
    );
    run(&["stop", "s", "--timeout", "0"]);
    run(&["destroy", "s"]);
    assert!(!copy.exists(), "the range's copy goes with the range");
}
