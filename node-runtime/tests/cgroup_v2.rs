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
