//! Mount targets in a container's tree as an attacker leaves them (the class of
//! CVE-2021-30465): container root controls its overlay's upper layer, so at the next start
//! every name fleet-node mounts onto or makes a directory at may be a symlink to a host path.
//! Each attack plants such a link in the stopped container's upper layer (owned like the
//! container's own files: inside a running container these names are mount points, which
//! cannot be removed, so the test writes what a tree could hold), then starts it. The start
//! either refuses with an error naming the container and the path, or succeeds with the mount
//! inside the container; and the host directories the links point at are untouched: nothing
//! created in them, nothing mounted on them (the host's mountinfo). Privileged and with a user
//! namespace, busybox and host templates.

mod support;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use support::Node;

/// Both ways a container runs: host root as container root, and (the default) a user namespace.
const MODES: [&[&str]; 2] = [&["--privileged"], &[]];

/// A host directory the attacks aim at, owned by the test: `existing/` (world-writable, so a
/// followed mkdir would succeed even as an unprivileged container's root) and nothing else.
struct HostTarget {
    dir: tempfile::TempDir,
}

impl HostTarget {
    fn new() -> HostTarget {
        let dir = tempfile::Builder::new()
            .prefix("fleet-host-target-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let existing = dir.path().join("existing");
        std::fs::create_dir(&existing).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o777)).unwrap();
        HostTarget { dir }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    /// Nothing was made under the directory and nothing is mounted in or on it on the host.
    fn assert_untouched(&self, attack: &str) {
        let mut found = Vec::new();
        walk(self.dir.path(), &mut found);
        assert_eq!(
            found,
            [self.dir.path().join("existing")],
            "{attack}: fleet-node made something on the host"
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let here = self.dir.path().display().to_string();
        assert!(
            !mountinfo.lines().any(|l| l.contains(&here)),
            "{attack}: something is mounted on the host under {here}:\n{mountinfo}"
        );
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            walk(&path, out);
        }
    }
}

/// One attack: links (name in the upper layer, where it points) and what a successful start
/// must show inside (a shell test), or `None` when the start must be refused.
struct Attack {
    what: &'static str,
    links: Vec<(&'static str, String)>,
    inside: Option<&'static str>,
    /// The path the refusal names.
    names: String,
}

fn attacks(host: &HostTarget) -> Vec<Attack> {
    let up = "../".repeat(24);
    let existing = host.path("existing");
    vec![
        Attack {
            what: "/proc a link to a missing host path",
            links: vec![("proc", host.path("made-by-fleet-node/proc"))],
            inside: None,
            names: "/proc".into(),
        },
        Attack {
            what: "/proc a link to a host directory",
            links: vec![("proc", existing.clone())],
            inside: None,
            names: "/proc".into(),
        },
        Attack {
            what: "/sys a link to a host directory",
            links: vec![("sys", existing.clone())],
            inside: None,
            names: "/sys".into(),
        },
        Attack {
            what: "/dev (the builtin init's parent) a relative link climbing to a host directory",
            links: vec![("dev", format!("{up}{}", existing.trim_start_matches('/')))],
            inside: None,
            names: "/dev".into(),
        },
        Attack {
            what: "/proc through a chain of links (/x -> host, /proc -> /x/existing)",
            links: vec![("x", host.path("")), ("proc", "/x/existing".to_owned())],
            inside: None,
            names: "/proc".into(),
        },
        Attack {
            what: "/sys/fs/cgroup a link under a real /sys (covered by sysfs)",
            links: vec![("sys/fs/cgroup", existing.clone())],
            inside: Some("grep -q ' /sys/fs/cgroup' /proc/self/mountinfo"),
            names: String::new(),
        },
        Attack {
            what: "/dev/pts a link under a real /dev (covered by the fresh /dev)",
            links: vec![("dev/pts", existing.clone())],
            inside: Some("grep -q ' /dev/pts ' /proc/self/mountinfo && test -x /dev/fleet-init"),
            names: String::new(),
        },
    ]
}

/// The owner of the container's upper layer (container root as the host sees it).
fn owner(upper: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(upper).unwrap();
    (m.uid(), m.gid())
}

fn plant(upper: &Path, links: &[(&str, String)]) -> Vec<PathBuf> {
    let (uid, gid) = owner(upper);
    let mut made = Vec::new();
    for (rel, to) in links {
        let at = upper.join(rel);
        if let Some(parent) = Path::new(rel)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let mut dir = upper.to_owned();
            for part in parent {
                dir.push(part);
                if std::fs::create_dir(&dir).is_ok() {
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
                    std::os::unix::fs::lchown(&dir, Some(uid), Some(gid)).unwrap();
                }
            }
            made.push(upper.join(parent.iter().next().unwrap()));
        }
        symlink(to, &at).unwrap();
        std::os::unix::fs::lchown(&at, Some(uid), Some(gid)).unwrap();
        made.push(at);
    }
    made
}

fn unplant(made: &[PathBuf]) {
    for path in made.iter().rev() {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).unwrap(),
            Ok(_) => std::fs::remove_file(path).unwrap(),
            Err(_) => {}
        }
    }
}

fn sh(node: &Node, name: &str, script: &str) -> std::process::Output {
    node.run(&["exec", name, "--", "/bin/sh", "-c", script])
}

/// Runs every attack against container `name` (created stopped), one after the other.
fn run_attacks(node: &Node, name: &str, host: &HostTarget, attacks: &[Attack]) {
    let upper = node.container_dir(name).join("upper");
    for attack in attacks {
        let what = format!("{name}: {}", attack.what);
        let made = plant(&upper, &attack.links);
        let out = node.run(&["start", name]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        match attack.inside {
            None => {
                assert!(!out.status.success(), "{what}: the start should be refused");
                assert!(err.contains(&format!("{name:?}")), "{what}: {err}");
                assert!(
                    err.contains(&format!("{} in the container's tree", attack.names)),
                    "{what}: {err}"
                );
                assert!(err.contains("symbolic link"), "{what}: {err}");
            }
            Some(check) => {
                assert!(out.status.success(), "{what}: {err}");
                let inside = sh(node, name, check);
                assert!(
                    inside.status.success(),
                    "{what}: inside, `{check}` failed: {}",
                    String::from_utf8_lossy(&inside.stderr)
                );
                node.ok(&["stop", name, "--timeout", "0"]);
            }
        }
        host.assert_untouched(&what);
        unplant(&made);
    }
    // The tree is whole again: the container starts, with its mounts where they belong.
    node.ok(&["start", name]);
    let out = sh(
        node,
        name,
        "test -r /proc/self/status && test -d /sys/fs/cgroup",
    );
    assert!(out.status.success(), "{name} after the attacks");
    node.ok(&["stop", name, "--timeout", "0"]);
}

#[test]
fn links_planted_at_mount_targets_reach_nothing_on_the_host() {
    let Some(node) = Node::new() else { return };
    let host = HostTarget::new();
    let attacks = attacks(&host);
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("tgt{i}");
        let mut args = vec!["create", &name, "--template", "busybox", "--stopped"];
        args.extend_from_slice(mode);
        node.ok(&args);
        run_attacks(&node, &name, &host, &attacks);
    }
}

#[test]
fn the_host_templates_shared_directories_are_not_bound_through_links() {
    let Some(node) = Node::new() else { return };
    let host = HostTarget::new();
    let shared = ["usr", "bin", "lib", "lib64", "sbin"]
        .into_iter()
        .find(|d| std::fs::symlink_metadata(Path::new("/").join(d)).is_ok_and(|m| m.is_dir()))
        .expect("a real shared directory on this host");
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("hosttgt{i}");
        let mut args = vec!["create", &name, "--template", "host", "--stopped"];
        args.extend_from_slice(mode);
        node.ok(&args);
        let attack = Attack {
            what: "a shared host directory a link to a host directory",
            links: vec![(shared, host.path("existing"))],
            inside: None,
            names: format!("/{shared}"),
        };
        run_attacks(&node, &name, &host, &[attack]);
    }
}

#[test]
fn a_removed_mount_point_is_made_again_inside_the_tree() {
    let Some(node) = Node::new() else { return };
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("gone{i}");
        let mut args = vec!["create", &name, "--template", "busybox", "--stopped"];
        args.extend_from_slice(mode);
        node.ok(&args);
        // `rm -rf /proc` in the upper layer: an overlay whiteout (a 0:0 character device).
        let upper = node.container_dir(&name).join("upper");
        for rel in ["proc", "sys", "dev"] {
            let at = upper.join(rel);
            nix::sys::stat::mknod(
                &at,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .unwrap();
        }
        node.ok(&["start", &name]);
        let out = sh(
            &node,
            &name,
            "test -r /proc/self/status && test -d /sys/fs/cgroup && test -c /dev/null",
        );
        assert!(out.status.success(), "{name}: mounts missing inside");
        node.ok(&["stop", &name, "--timeout", "0"]);
    }
}
