//! /sys/fs/cgroup inside the container: read-only, and showing only the container's own cgroup.
//!
//! Init unshares its cgroup namespace after joining the container's cgroup, so a cgroup
//! filesystem it mounts has that cgroup as its root. The host's layout is mirrored: on a v1 host
//! a read-only tmpfs holds one read-only mount per hierarchy the container has a cgroup in (with
//! the host's symlinks such as `cpu -> cpu,cpuacct`); on a v2 host cgroup2 is mounted read-only
//! at /sys/fs/cgroup itself. Nothing in the container can write a limit file or make a cgroup
//! (finding 3 raised its own memory limit that way).

use std::fs;
use std::path::{Path, PathBuf};

use crate::sys::beneath::{Root, Target};
use crate::sys::mount::{self, Flags};

/// One cgroup filesystem to mount inside, as the host has it under /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Path below /sys/fs/cgroup (`memory`, `cpu,cpuacct`, `unified`), empty for the root.
    pub rel: String,
    /// cgroup2 rather than a v1 hierarchy.
    pub v2: bool,
    /// The v1 hierarchy's controllers and `name=`, as mount data (`cpu,cpuacct`).
    pub options: String,
}

/// What the child mounts at /sys/fs/cgroup, computed by the parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupLayout {
    /// The filesystems, in the host's mount order.
    pub mounts: Vec<CgroupMount>,
    /// Symlinks directly in the host's /sys/fs/cgroup (name, target).
    pub links: Vec<(String, PathBuf)>,
}

/// The cgroup filesystems of the host's /sys/fs/cgroup from `/proc/self/mountinfo`, keeping only
/// those under which `has_group` says the container has a cgroup (a hierarchy it was not put in
/// would show the caller's cgroup instead). `controllers` are the names in /proc/cgroups: a v1
/// mount's data keeps those and `name=`, not options like `release_agent=`.
pub fn from_mountinfo(
    mountinfo: &str,
    controllers: &[String],
    has_group: impl Fn(&Path) -> bool,
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
        let mut right = right.split(' ');
        let (Some(fstype), Some(_source), Some(superopts)) =
            (right.next(), right.next(), right.next())
        else {
            continue;
        };
        let v2 = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let point = Path::new(point);
        let rel = match point.strip_prefix(base) {
            Ok(rel) if rel.components().count() <= 1 => rel,
            _ => continue,
        };
        if !has_group(point) {
            continue;
        }
        let options = if v2 {
            String::new()
        } else {
            superopts
                .split(',')
                .filter(|o| o.starts_with("name=") || controllers.iter().any(|c| c == o))
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push(CgroupMount {
            rel: rel.display().to_string(),
            v2,
            options,
        });
    }
    out
}

/// The host's layout for a container whose cgroup directories are `dirs`.
pub fn host_layout(dirs: &[PathBuf]) -> CgroupLayout {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let controllers: Vec<String> = fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    let mounts = from_mountinfo(&mountinfo, &controllers, |point| {
        dirs.iter().any(|d| d.starts_with(point))
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

/// Mounts the layout at `/sys/fs/cgroup` of the tree (in the child, after its cgroup namespace
/// and the read-only sysfs are in place).
pub fn mount_inside(root: &Root, layout: &CgroupLayout) -> Result<(), String> {
    const DIR: &str = "sys/fs/cgroup";
    let ro = Flags::MS_RDONLY | Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    if let Some(unified) = layout.mounts.iter().find(|m| m.rel.is_empty() && m.v2) {
        let dir = super::dir(root, DIR)?;
        return mount_one(&dir, unified, ro).map_err(super::at_err("mount cgroup2 on", &dir));
    }
    if layout.mounts.is_empty() {
        return Ok(());
    }
    let dir = super::dir(root, DIR)?;
    let tmpfs = Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    mount::mount_fs_at("tmpfs", &dir, "tmpfs", tmpfs, Some("mode=755,size=64k"))
        .map_err(super::at_err("mount tmpfs on", &dir))?;
    for m in layout.mounts.iter().filter(|m| !m.rel.is_empty()) {
        let at = super::dir(root, &format!("{DIR}/{}", m.rel))?;
        mount_one(&at, m, ro).map_err(super::at_err("mount cgroup on", &at))?;
    }
    for (name, target) in &layout.links {
        root.symlink(&format!("{DIR}/{name}"), target)
            .map_err(|e| e.to_string())?;
    }
    // Found again: the tmpfs now, not the sysfs directory it covers.
    let dir = super::dir(root, DIR)?;
    mount::remount(&dir, tmpfs | Flags::MS_RDONLY).map_err(super::at_err("make read-only", &dir))
}

fn mount_one(at: &Target, m: &CgroupMount, flags: Flags) -> std::io::Result<()> {
    if m.v2 {
        mount::mount_fs_at("cgroup2", at, "cgroup2", flags, None)
    } else {
        mount::mount_fs_at("cgroup", at, "cgroup", flags, Some(&m.options))
    }
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

    #[test]
    fn v1_hierarchies_keep_their_controllers_only() {
        let controllers = ["cpu", "cpuacct", "memory", "pids"].map(String::from);
        let got = from_mountinfo(V1, &controllers, |p| !p.ends_with("unified"));
        let rels: Vec<_> = got
            .iter()
            .map(|m| (m.rel.as_str(), m.options.as_str()))
            .collect();
        assert_eq!(
            rels,
            [
                ("cpu,cpuacct", "cpu,cpuacct"),
                ("memory", "memory"),
                ("systemd", "name=systemd")
            ]
        );
    }

    #[test]
    fn a_v2_host_mounts_cgroup2_at_the_root() {
        let v2 = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let got = from_mountinfo(v2, &[], |_| true);
        assert_eq!(
            got,
            [CgroupMount {
                rel: String::new(),
                v2: true,
                options: String::new()
            }]
        );
    }
}
