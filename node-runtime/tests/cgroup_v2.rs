//! The cgroup v2 code path against a real unified hierarchy: on a pure v2 host that is
//! /sys/fs/cgroup, on a hybrid host /sys/fs/cgroup/unified (where no controller may be enabled,
//! so this checks groups, attach, kill and removal rather than limits).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use fleet_protocol::{ContainerSpec, TemplateRef};
use node_runtime::Runtime;
use node_runtime::cgroups::Version;
use support::{alive, missing_prerequisite};

fn unified_mount() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
}

/// Destroys what the test made, even when it fails.
struct Cleanup(Runtime);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in self.0.store.names().unwrap_or_default() {
            let _ = self.0.destroy(&name);
        }
        self.0.cgroups.remove_parent(&self.0.cgroup_parent);
    }
}

#[test]
fn lifecycle_on_the_unified_hierarchy() {
    let why = missing_prerequisite().or_else(|| {
        unified_mount()
            .is_none()
            .then(|| "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified".to_owned())
    });
    if let Some(why) = why {
        support::cannot_run(&why);
        return;
    }
    let mount = unified_mount().unwrap();
    let root = tempfile::tempdir().unwrap();
    let parent = format!("fleet-test-v2-{}", std::process::id());
    let rt = Runtime::with_cgroup_mount(root.path(), &mount, &parent).unwrap();
    assert_eq!(rt.cgroups.version(), Version::V2);
    let rt = Cleanup(rt);
    let spec = ContainerSpec::new(
        "t",
        "v2",
        TemplateRef::Busybox,
        vec!["sh".into(), "-c".into(), "sleep 1000 & sleep 1000".into()],
    );
    assert!(rt.0.create(&spec).unwrap());
    let status = rt.0.status("v2").unwrap();
    let init = status.init_pid.expect("running");
    let cgroup = rt.0.cgroup("v2");
    let dir = cgroup.dirs()[0].clone();
    assert_eq!(dir, mount.join(&parent).join("v2"));
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
    assert!(rt.0.stop("v2", Duration::from_secs(0)).unwrap());
    assert!(!alive(init));
    assert!(cgroup.pids().is_empty());
    assert!(rt.0.destroy("v2").unwrap());
    assert!(!dir.exists(), "v2 group removed");
}
