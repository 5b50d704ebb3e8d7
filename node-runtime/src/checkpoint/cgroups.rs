//! CRIU and the container's cgroups: where criu finds each hierarchy (its yard), and the
//! container's view of its own groups as external mounts.
//!
//! The yard: without `--cgroup-yard` criu mounts every hierarchy afresh, and a fresh cgroup v1
//! mount costs about 300 ms on kernel 6.18 here (nine per dump and per restore: 30 s and more
//! per checkpoint test). The host's own /sys/fs/cgroup is a yard already when each hierarchy the
//! task is in is mounted there under the name criu looks for: the controllers as
//! /proc/PID/cgroup lists them (`cpu,cpuacct`), a named one without `name=` (`systemd`), the
//! unified one of a hybrid host as `unified`. A v2 host (one cgroup2 at /sys/fs/cgroup) has no
//! such directory: criu mounts cgroup2 itself there, which is cheap.
//!
//! The view: the container's /sys/fs/cgroup holds read-only binds of its own group directories
//! (`rootfs/cgroupfs.rs`). Left to itself criu mounts each again as a fresh cgroup filesystem
//! in the container's cgroup namespace (0.6-1.2 s each here, and the kernel path that once hung
//! a start); named external, each is bound again on restore from the container's group
//! directory on the target, as the start binds it.

use std::path::{Path, PathBuf};

use crate::rootfs::cgroupfs::CgroupLayout;

/// `mount` when it serves criu as its cgroup yard for a task whose `/proc/PID/cgroup` is
/// `proc_cgroup`, else `None`.
pub fn host_yard(mount: &Path, proc_cgroup: &str) -> Option<PathBuf> {
    let mut any = false;
    for line in proc_cgroup.lines().filter(|l| !l.is_empty()) {
        let controllers = line.split(':').nth(1)?;
        let dir = match controllers {
            "" => "unified",
            c => c.strip_prefix("name=").unwrap_or(c),
        };
        if !mount.join(dir).join("cgroup.procs").is_file() {
            return None;
        }
        any = true;
    }
    any.then(|| mount.to_path_buf())
}

/// `--cgroup-yard DIR` for criu when the host's cgroup mount serves as one (the caller's
/// hierarchies, which are the container's: it has a group in each).
pub fn yard_args(mount: &Path) -> Vec<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    match host_yard(mount, &own) {
        Some(yard) => vec!["--cgroup-yard".into(), yard.display().to_string()],
        None => Vec::new(),
    }
}

/// The key a bind of the container's group in the hierarchy at `rel` below /sys/fs/cgroup
/// (`memory`, empty for a v2 host's root) has in criu's images.
fn key(rel: &str) -> String {
    if rel.is_empty() {
        "fleet-cgroup".to_owned()
    } else {
        format!("fleet-cgroup-{rel}")
    }
}

/// `--external mnt[INSIDE]:KEY` at the dump for each bind of the container's groups.
pub fn dump_externals(layout: &CgroupLayout) -> Vec<String> {
    layout
        .mounts
        .iter()
        .flat_map(|m| {
            let inside = Path::new("/sys/fs/cgroup").join(&m.rel);
            [
                "--external".to_owned(),
                format!("mnt[{}]:{}", inside.display(), key(&m.rel)),
            ]
        })
        .collect()
}

/// `--external mnt[KEY]:SOURCE` at the restore: the container's group directories on this host.
pub fn restore_externals(layout: &CgroupLayout) -> Vec<String> {
    layout
        .mounts
        .iter()
        .flat_map(|m| {
            [
                "--external".to_owned(),
                format!("mnt[{}]:{}", key(&m.rel), m.source.display()),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(root: &Path, name: &str) {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("cgroup.procs"), "").unwrap();
    }

    const HYBRID: &str = "9:name=systemd:/\n2:cpu,cpuacct:/fleet/web\n1:memory:/x\n0::/\n";

    #[test]
    fn each_bind_of_the_view_is_named_at_the_dump_and_found_again_on_the_target() {
        let layout = CgroupLayout {
            mounts: vec![crate::rootfs::cgroupfs::CgroupMount {
                rel: "cpu,cpuacct".into(),
                source: "/sys/fs/cgroup/cpu,cpuacct/fleet/web".into(),
            }],
            links: Vec::new(),
        };
        assert_eq!(
            dump_externals(&layout),
            [
                "--external",
                "mnt[/sys/fs/cgroup/cpu,cpuacct]:fleet-cgroup-cpu,cpuacct"
            ]
        );
        assert_eq!(
            restore_externals(&layout),
            [
                "--external",
                "mnt[fleet-cgroup-cpu,cpuacct]:/sys/fs/cgroup/cpu,cpuacct/fleet/web"
            ]
        );
    }

    #[test]
    fn a_v1_host_whose_mounts_carry_criu_names_is_the_yard() {
        let root = tempfile::tempdir().unwrap();
        for h in ["systemd", "cpu,cpuacct", "memory", "unified"] {
            hierarchy(root.path(), h);
        }
        assert_eq!(
            host_yard(root.path(), HYBRID),
            Some(root.path().to_path_buf())
        );
    }

    #[test]
    fn a_missing_hierarchy_or_a_v2_host_leaves_the_mounting_to_criu() {
        let root = tempfile::tempdir().unwrap();
        for h in ["systemd", "memory", "unified"] {
            hierarchy(root.path(), h);
        }
        assert_eq!(host_yard(root.path(), HYBRID), None, "no cpu,cpuacct");
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.procs"), "").unwrap();
        assert_eq!(host_yard(v2.path(), "0::/fleet/web\n"), None);
    }
}
