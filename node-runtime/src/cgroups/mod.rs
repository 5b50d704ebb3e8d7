//! Control groups, v1 and v2, knowing nothing of containers: create a group, attach a pid, list
//! its pids, kill them all, remove it, and tell other modules where each controller's files are.
//!
//! The mount root (`/sys/fs/cgroup` on a real host) and the parent group name are parameters, so
//! tests run under their own parent. Neighbours: `container/` creates one [`Cgroup`] per
//! container; `limits/` writes limit files into [`Cgroup::controller_dir`]. The files are written
//! directly, youki style (see docs/decisions.md).

mod device_program;
mod device_rules;
pub mod devices;
mod join;
mod teardown;

pub use join::{Forked, Join, Ready};

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Result, io_err};

pub use devices::DEVICE_ALLOW_LIST;

/// Which cgroup interface the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (or group of controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

impl Version {
    /// 1 or 2, as the protocol reports it.
    pub fn number(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }
}

/// The controllers fleet-node puts every container in on a v1 host.
const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

/// The controllers fleet-node enables for children on a v2 host.
const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "memory", "io", "pids"];

/// The host's cgroup mounts, found under one mount root.
#[derive(Debug, Clone)]
pub struct CgroupRoot {
    mount: PathBuf,
    version: Version,
    /// v1: controller name -> its hierarchy's mount directory.
    hierarchies: Vec<(String, PathBuf)>,
    /// v1: the other hierarchies the host mounts (`name=systemd`, the unified one of a hybrid
    /// host, `net_cls`, ...), whose files fleet-node never writes.
    others: Vec<PathBuf>,
    /// v1: those of `others` that are cgroup2 (the hybrid host's unified hierarchy).
    others_v2: Vec<PathBuf>,
}

impl CgroupRoot {
    /// Detects the layout under `mount`: v2 when it holds `cgroup.controllers`, otherwise v1 with
    /// one directory per controller (`cpu`, `memory`, or joined ones like `cpu,cpuacct`).
    pub fn detect(mount: impl Into<PathBuf>) -> Result<Self> {
        let mount = mount.into();
        if mount.join("cgroup.controllers").exists() {
            return Ok(CgroupRoot {
                mount,
                version: Version::V2,
                hierarchies: Vec::new(),
                others: Vec::new(),
                others_v2: Vec::new(),
            });
        }
        let mut hierarchies = Vec::new();
        let mut others = Vec::new();
        let mut others_v2 = Vec::new();
        let entries = fs::read_dir(&mount).map_err(io_err("read cgroup mount", &mount))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // Hosts link single names to joined hierarchies (cpu -> cpu,cpuacct): only the real
            // directory counts, or every group would be made twice.
            if entry.file_type().is_ok_and(|t| t.is_symlink())
                || !path.join("cgroup.procs").exists()
            {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut used = false;
            for controller in name.split(',') {
                if V1_CONTROLLERS.contains(&controller)
                    && !hierarchies.iter().any(|(c, _)| c == controller)
                {
                    hierarchies.push((controller.to_owned(), path.clone()));
                    used = true;
                }
            }
            if !used {
                if path.join("cgroup.controllers").exists() {
                    others_v2.push(path.clone());
                }
                others.push(path);
            }
        }
        hierarchies.sort();
        others.sort();
        Ok(CgroupRoot {
            mount,
            version: Version::V1,
            hierarchies,
            others,
            others_v2,
        })
    }

    /// Whether v1 `controller` has a hierarchy here (always false on v2).
    pub fn has_controller(&self, controller: &str) -> bool {
        self.hierarchies.iter().any(|(c, _)| c == controller)
    }

    /// v1 or v2.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The mount root.
    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// A group `<parent>/<name>` (not created yet).
    pub fn group(&self, parent: &str, name: &str) -> Cgroup {
        Cgroup {
            root: self.clone(),
            parent: parent.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Every distinct hierarchy directory (v1) or the unified mount (v2). On v1 a container has
    /// a group in every hierarchy the host mounts, as runc does: left in fleet-node's own group
    /// of `name=systemd` or the hybrid unified hierarchy, it would share that group with the
    /// host, and CRIU, which saves the whole subtree of a task's group, saved and restored the
    /// host's ~1,000 systemd groups with every checkpoint.
    fn hierarchy_dirs(&self) -> Vec<PathBuf> {
        match self.version {
            Version::V2 => vec![self.mount.clone()],
            Version::V1 => {
                let mut dirs: Vec<PathBuf> =
                    self.hierarchies.iter().map(|(_, p)| p.clone()).collect();
                dirs.dedup();
                dirs.extend(self.others.iter().cloned());
                dirs
            }
        }
    }

    /// Names of the groups under `parent` (in the first hierarchy).
    pub fn children(&self, parent: &str) -> Vec<String> {
        let Some(first) = self.hierarchy_dirs().into_iter().next() else {
            return Vec::new();
        };
        let mut names: Vec<String> = fs::read_dir(first.join(parent))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Removes the parent group itself in every hierarchy if it has no children left (the
    /// kernel refuses to remove a group with children, so a busy parent stays).
    pub fn remove_parent(&self, parent: &str) {
        for dir in self.hierarchy_dirs() {
            let _ = fs::remove_dir(dir.join(parent));
        }
    }
}

/// One group, `<parent>/<name>`, in every hierarchy fleet-node uses.
#[derive(Debug, Clone)]
pub struct Cgroup {
    root: CgroupRoot,
    parent: String,
    name: String,
}

impl Cgroup {
    /// v1 or v2.
    pub fn version(&self) -> Version {
        self.root.version
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Directory holding `controller`'s files for this group: v1
    /// `<mount>/<controller>/<parent>/<name>`, v2 `<mount>/<parent>/<name>` when the controller
    /// is available there. `None` when the host lacks the controller.
    pub fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        match self.root.version {
            Version::V1 => self
                .root
                .hierarchies
                .iter()
                .find(|(c, _)| c == controller)
                .map(|(_, p)| p.join(&self.parent).join(&self.name)),
            Version::V2 => {
                let parent = self.root.mount.join(&self.parent);
                let enabled =
                    fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
                enabled
                    .split_whitespace()
                    .any(|c| c == controller)
                    .then(|| parent.join(&self.name))
            }
        }
    }

    /// The group's directory in every hierarchy.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.root
            .hierarchy_dirs()
            .into_iter()
            .map(|h| h.join(&self.parent).join(&self.name))
            .collect()
    }

    /// Whether the group exists (in the first hierarchy).
    pub fn exists(&self) -> bool {
        self.dirs().first().is_some_and(|d| d.is_dir())
    }

    /// Creates the group (and its parent) everywhere; idempotent. Sets up what the kernel needs
    /// before a task can join: v1 cpuset's cpus and mems, v2's subtree controllers; and the
    /// device allow-list.
    pub fn create(&self) -> Result<()> {
        match self.root.version {
            Version::V1 => {
                for dir in self.dirs() {
                    fs::create_dir_all(&dir).map_err(io_err("create cgroup", &dir))?;
                }
                if let Some(dir) = self.controller_dir("cpuset") {
                    let parent = dir.parent().expect("group has a parent");
                    for file in ["cpuset.cpus", "cpuset.mems"] {
                        inherit(parent, file)?;
                        inherit(&dir, file)?;
                    }
                }
                if let Some(dir) = self.controller_dir("devices") {
                    devices::apply_allow_list(&dir)?;
                }
            }
            Version::V2 => {
                let parent = self.root.mount.join(&self.parent);
                let dir = parent.join(&self.name);
                // The last container's destroy removes an empty parent: made again here, the
                // child must not be made in a parent without its controllers, so a parent
                // removed in between is made (and set up) again.
                loop {
                    fs::create_dir_all(&parent).map_err(io_err("create cgroup", &parent))?;
                    enable_controllers(&self.root.mount)?;
                    enable_controllers(&parent)?;
                    match fs::create_dir(&dir) {
                        Ok(()) => break,
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => break,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io_err("create cgroup", &dir)(e)),
                    }
                }
            }
        }
        Ok(())
    }

    /// `cgroup.procs` of the group in every hierarchy: a process writes its pid to each to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// How a new process gets into the group everywhere: the v1 `tasks` files it writes `0`
    /// to itself (moving only the calling thread lets the kernel skip the global threadgroup
    /// lock and the RCU grace period it waits for), and the group on the cgroup2 hierarchy (a
    /// v2 host's, a hybrid host's unified one), which has no `tasks`: a child is forked into
    /// that one ([`Join::fork`]).
    pub fn join(&self) -> Join {
        let mut join = Join::default();
        for dir in self.dirs() {
            match self.root.version {
                Version::V1 if !self.root.others_v2.iter().any(|h| dir.starts_with(h)) => {
                    join.tasks.push(dir.join("tasks"))
                }
                _ => join.v2 = Some(dir),
            }
        }
        join
    }

    /// Moves `pid` into the group in every hierarchy.
    pub fn attach(&self, pid: i32) -> Result<()> {
        for file in self.procs_files() {
            fs::write(&file, pid.to_string()).map_err(io_err("write pid to", &file))?;
        }
        Ok(())
    }

    /// Pids in the group (from the pids hierarchy on v1, else the first one).
    pub fn pids(&self) -> Vec<i32> {
        let dir = self
            .controller_dir("pids")
            .or_else(|| self.dirs().into_iter().next());
        let Some(dir) = dir else { return Vec::new() };
        fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// Copies a v1 cpuset file from the parent when it is empty (a new cpuset group starts empty and
/// refuses tasks until both are set).
fn inherit(dir: &Path, file: &str) -> Result<()> {
    let path = dir.join(file);
    let current = fs::read_to_string(&path).map_err(io_err("read", &path))?;
    if !current.trim().is_empty() {
        return Ok(());
    }
    let from = dir.parent().expect("cgroup has a parent").join(file);
    let value = fs::read_to_string(&from).map_err(io_err("read", &from))?;
    fs::write(&path, value.trim()).map_err(io_err("write", &path))
}

/// Enables fleet-node's controllers for the children of a v2 group (those the host offers).
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for c in V2_CONTROLLERS {
        if available.split_whitespace().any(|a| a == *c)
            && !enabled.split_whitespace().any(|e| e == *c)
        {
            let path = dir.join("cgroup.subtree_control");
            fs::write(&path, format!("+{c}")).map_err(io_err("write", &path))?;
        }
    }
    Ok(())
}

/// The cgroup mount root fleet-node uses unless told otherwise.
pub const DEFAULT_MOUNT: &str = "/sys/fs/cgroup";

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(root: &Path, name: &str) {
        fs::create_dir_all(root.join(name)).unwrap();
        fs::write(root.join(name).join("cgroup.procs"), "").unwrap();
    }

    #[test]
    fn v1_layout_maps_each_controller_to_its_hierarchy() {
        let root = tempfile::tempdir().unwrap();
        hierarchy(root.path(), "cpu,cpuacct");
        hierarchy(root.path(), "memory");
        hierarchy(root.path(), "pids");
        hierarchy(root.path(), "unified");
        std::os::unix::fs::symlink("cpu,cpuacct", root.path().join("cpu")).unwrap();
        let cg = CgroupRoot::detect(root.path())
            .unwrap()
            .group("fleet-x", "web");
        assert_eq!(cg.version(), Version::V1);
        let joined = root.path().join("cpu,cpuacct/fleet-x/web");
        assert_eq!(cg.controller_dir("cpu"), Some(joined.clone()));
        assert_eq!(cg.controller_dir("cpuacct"), Some(joined.clone()));
        assert_eq!(
            cg.controller_dir("memory"),
            Some(root.path().join("memory/fleet-x/web"))
        );
        assert_eq!(cg.controller_dir("blkio"), None, "not mounted here");
        assert_eq!(
            cg.dirs(),
            ["cpu,cpuacct", "memory", "pids", "unified"]
                .map(|h| root.path().join(h).join("fleet-x/web")),
            "one directory per real hierarchy, those without fleet-node's controllers too"
        );
        assert!(
            cg.procs_files()
                .iter()
                .all(|p| p.ends_with("web/cgroup.procs"))
        );
    }

    #[test]
    fn v2_layout_is_recognised_and_offers_enabled_controllers_only() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::create_dir_all(root.path().join("fleet-y")).unwrap();
        fs::write(
            root.path().join("fleet-y/cgroup.subtree_control"),
            "cpu pids\n",
        )
        .unwrap();
        let cg = CgroupRoot::detect(root.path())
            .unwrap()
            .group("fleet-y", "db");
        assert_eq!(cg.version(), Version::V2);
        assert_eq!(
            cg.controller_dir("cpu"),
            Some(root.path().join("fleet-y/db"))
        );
        assert_eq!(
            cg.controller_dir("memory"),
            None,
            "not enabled for children"
        );
        assert_eq!(cg.dirs(), vec![root.path().join("fleet-y/db")]);
    }
}
