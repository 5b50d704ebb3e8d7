//! A runtime on the unified cgroup hierarchy, driven in-process: /sys/fs/cgroup on a v2 host,
//! /sys/fs/cgroup/unified on a hybrid one (no controllers there, so no device allow-list and no
//! limits either: groups, attach, kill and removal only). Its own temp root and cgroup parent,
//! its containers and parent removed by its Drop even when the test fails.

use std::path::PathBuf;

use node_runtime::Runtime;

use super::{cannot_run, missing_prerequisite};

/// The cgroup2 mount, if the host has one.
pub fn mount() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
}

/// A [`Runtime`] on [`mount`] with its own root and cgroup parent.
pub struct Unified {
    /// The runtime.
    pub rt: Runtime,
    /// The cgroup2 mount it uses.
    pub mount: PathBuf,
    /// Its cgroup parent (below `mount`).
    pub parent: String,
    /// Its root (kept until the containers in it are destroyed).
    pub root: tempfile::TempDir,
}

impl Unified {
    /// A fresh runtime whose cgroup parent is named after `label`, or `None` after
    /// [`cannot_run`] when the host lacks a prerequisite or a cgroup2 mount.
    pub fn new(label: &str) -> Option<Unified> {
        let why = missing_prerequisite().or_else(|| {
            mount()
                .is_none()
                .then(|| "no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified".to_owned())
        });
        if let Some(why) = why {
            cannot_run(&why);
            return None;
        }
        let mount = mount().unwrap();
        let root = tempfile::tempdir().unwrap();
        let parent = format!("fleet-test-{label}-{}", std::process::id());
        let rt = Runtime::with_cgroup_mount(root.path(), &mount, &parent).unwrap();
        Some(Unified {
            rt,
            mount,
            parent,
            root,
        })
    }
}

impl Drop for Unified {
    fn drop(&mut self) {
        for name in self.rt.store.names().unwrap_or_default() {
            let _ = self.rt.destroy(&name);
        }
        self.rt.cgroups.remove_parent(&self.rt.cgroup_parent);
    }
}
