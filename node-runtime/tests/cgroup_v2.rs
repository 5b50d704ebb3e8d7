//! The cgroup v2 code path against a real unified hierarchy: on a pure v2 host that is
//! /sys/fs/cgroup, on a hybrid host /sys/fs/cgroup/unified (where no controller may be enabled,
//! so this checks groups, attach, kill and removal rather than limits).

mod support;

use std::time::Duration;

use fleet_protocol::{ContainerSpec, TemplateRef};
use node_runtime::cgroups::Version;
use support::alive;
use support::unified::Unified;

#[test]
fn lifecycle_on_the_unified_hierarchy() {
    let Some(unified) = Unified::new("v2") else {
        return;
    };
    let (rt, mount, parent) = (&unified.rt, &unified.mount, &unified.parent);
    assert_eq!(rt.cgroups.version(), Version::V2);
    let spec = ContainerSpec::new(
        "t",
        "v2",
        TemplateRef::Busybox,
        vec!["sh".into(), "-c".into(), "sleep 1000 & sleep 1000".into()],
    );
    assert!(rt.create(&spec).unwrap());
    let status = rt.status("v2").unwrap();
    let init = status.init_pid.expect("running");
    let cgroup = rt.cgroup("v2");
    let dir = cgroup.dirs()[0].clone();
    assert_eq!(dir, mount.join(parent).join("v2"));
    let line = std::fs::read_to_string(format!("/proc/{init}/cgroup"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap()
        .to_owned();
    assert_eq!(
        line,
        format!("0::/{parent}/v2"),
        "init sits in the v2 group"
    );
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids = cgroup.pids();
        if pids.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pids.len() >= 2, "init and its sleep: {pids:?}");
    assert!(rt.stop("v2", Duration::from_secs(0)).unwrap());
    assert!(!alive(init));
    assert!(cgroup.pids().is_empty());
    assert!(rt.destroy("v2").unwrap());
    assert!(!dir.exists(), "v2 group removed");
}

/// Init and the console keeper are in the container's group on the cgroup2 hierarchy (a hybrid
/// host's unified one, a v2 host's only one), which they are forked into rather than moved to
/// (`cgroups/join.rs`), and inside, that group is the root of the cgroup namespace like the
/// others.
#[test]
fn init_and_the_console_keeper_are_born_in_the_containers_cgroup2_group() {
    let Some(node) = support::Node::new() else {
        return;
    };
    node.ok(&[
        "create",
        "born",
        "--template",
        "busybox",
        "--",
        "sleep",
        "1000",
    ]);
    let Some(v2) = node.runtime().cgroup("born").join().v2 else {
        support::cannot_run("no cgroup2 hierarchy on this host");
        return;
    };
    let pids: Vec<i32> = std::fs::read_to_string(v2.join("cgroup.procs"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let init = node.runtime().status("born").unwrap().init_pid.unwrap();
    assert!(pids.contains(&init), "init {init} in {pids:?}");
    let keeper = pids.iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|argv| argv.starts_with(b"fleet-console born\0"))
    });
    assert!(keeper.is_some(), "the console keeper among {pids:?}");
    let inside = node.exec("born", &["cat", "/proc/1/cgroup"]);
    assert!(
        inside.lines().any(|l| l == "0::/"),
        "init's cgroup2 group is its namespace's root: {inside}"
    );
}
