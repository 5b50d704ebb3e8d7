//! /sys/fs/cgroup inside the container: read-only, and showing only the container's own cgroup.
//!
//! The host's layout is mirrored with binds of the container's own group directories: on a v1
//! host a read-only tmpfs holds one read-only bind per hierarchy (the container has a group in
//! every one, see `cgroups`), with the host's symlinks such as `cpu -> cpu,cpuacct`; on a v2
//! host the container's group is bound read-only at /sys/fs/cgroup itself. Init unshares its
//! cgroup namespace after joining its groups, so /proc/self/cgroup and mountinfo inside show
//! each bind as the root `/`. Nothing in the container can write a limit file or make a
//! cgroup (finding 3 raised its own memory limit that way).
//!
//! Binds, not fresh cgroup mounts (as crun does): a fresh v1 mount in a new cgroup namespace
//! makes a new superblock per hierarchy, about 70 ms each here, and the kernel's v1 mount path
//! retries without end while a hierarchy root is being torn down; a container's setup once hung
//! there for over ten minutes, holding the node's apply lock.

use std::fs;
use std::path::{Path, PathBuf};

use crate::sys::beneath::Root;
use crate::sys::mount::{self, Flags};

/// One cgroup hierarchy to show inside, as the host has it under /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Path below /sys/fs/cgroup (`memory`, `cpu,cpuacct`, `unified`), empty for the root.
    pub rel: String,
    /// The container's group directory in that hierarchy (a host path fleet-node made).
    pub source: PathBuf,
}

/// What the child binds at /sys/fs/cgroup, computed by the parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLayout {
    /// The hierarchies, in the host's mount order.
    pub mounts: Vec<CgroupMount>,
    /// Symlinks directly in the host's /sys/fs/cgroup (name, target).
    pub links: Vec<(String, PathBuf)>,
}

/// The cgroup filesystems of the host's /sys/fs/cgroup from `/proc/self/mountinfo`, each with
/// the container's group in it; `group_in` gives that directory for a mount point, `None` where
/// the container has none (a hierarchy it was not put in would show the caller's group).
pub fn from_mountinfo(
    mountinfo: &str,
    group_in: impl Fn(&Path) -> Option<PathBuf>,
) -> Vec<CgroupMount> {
    let base = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        if !matches!(right.split(' ').next(), Some("cgroup" | "cgroup2")) {
            continue;
        }
        let point = Path::new(point);
        let rel = match point.strip_prefix(base) {
            Ok(rel) if rel.components().count() <= 1 => rel,
            _ => continue,
        };
        let Some(source) = group_in(point) else {
            continue;
        };
        out.push(CgroupMount {
            rel: rel.display().to_string(),
            source,
        });
    }
    out
}

/// The host's layout for a container whose cgroup directories are `dirs`.
pub fn host_layout(dirs: &[PathBuf]) -> CgroupLayout {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = from_mountinfo(&mountinfo, |point| {
        dirs.iter().find(|d| d.starts_with(point)).cloned()
    });
    let links = fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let target = fs::read_link(e.path()).ok()?;
            Some((e.file_name().to_str()?.to_owned(), target))
        })
        .collect();
    CgroupLayout { mounts, links }
}

/// Binds the layout at `/sys/fs/cgroup` of the tree (in the child, after it joined its groups
/// and the read-only sysfs is in place; before pivot_root, while the host's groups are in
/// sight).
pub fn mount_inside(root: &Root, layout: &CgroupLayout) -> Result<(), String> {
    const DIR: &str = "sys/fs/cgroup";
    if let Some(own) = layout.mounts.iter().find(|m| m.rel.is_empty()) {
        let dir = super::dir(root, DIR)?;
        return mount::bind_locked(&own.source, &dir)
            .map_err(super::at_err("bind the container's cgroup on", &dir));
    }
    if layout.mounts.is_empty() {
        return Ok(());
    }
    let dir = super::dir(root, DIR)?;
    let tmpfs = Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    mount::mount_fs_at("tmpfs", &dir, "tmpfs", tmpfs, Some("mode=755,size=64k"))
        .map_err(super::at_err("mount tmpfs on", &dir))?;
    for m in &layout.mounts {
        let at = super::dir(root, &format!("{DIR}/{}", m.rel))?;
        mount::bind_locked(&m.source, &at).map_err(super::at_err("bind cgroup on", &at))?;
    }
    for (name, target) in &layout.links {
        root.symlink(&format!("{DIR}/{name}"), target)
            .map_err(|e| e.to_string())?;
    }
    // Found again: the tmpfs now, not the sysfs directory it covers.
    let dir = super::dir(root, DIR)?;
    mount::remount(&dir, tmpfs | Flags::MS_RDONLY).map_err(super::at_err("make read-only", &dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory,release_agent=/x
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/other rw,relatime - cgroup cgroup rw,pids
";

    fn dirs(hierarchies: &[&str]) -> Vec<PathBuf> {
        hierarchies
            .iter()
            .map(|h| Path::new("/sys/fs/cgroup").join(h).join("fleet/web"))
            .collect()
    }

    #[test]
    fn each_v1_hierarchy_shows_the_containers_own_group() {
        let groups = dirs(&["cpu,cpuacct", "memory", "systemd"]);
        let got = from_mountinfo(V1, |point| {
            groups.iter().find(|d| d.starts_with(point)).cloned()
        });
        let rels: Vec<_> = got
            .iter()
            .map(|m| (m.rel.as_str(), m.source.clone()))
            .collect();
        assert_eq!(
            rels,
            [
                ("cpu,cpuacct", groups[0].clone()),
                ("memory", groups[1].clone()),
                ("systemd", groups[2].clone())
            ],
            "unified and the mount outside /sys/fs/cgroup are left out"
        );
    }

    #[test]
    fn a_v2_host_binds_the_group_at_the_root() {
        let v2 = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let group = PathBuf::from("/sys/fs/cgroup/fleet/web");
        let got = from_mountinfo(v2, |_| Some(group.clone()));
        assert_eq!(
            got,
            [CgroupMount {
                rel: String::new(),
                source: group
            }]
        );
    }
}
