//! `resources.disk.from`: a host directory (an OpenVZ simfs private area) becomes the first
//! content of a container's own disk. Owners, modes and hard links are kept, symlinks stay links
//! (an absolute link to a host file does not bring the host file along), the owners are shifted
//! into the container's uid range, and the copy is made once: what the container changes later
//! stays changed across restarts.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use fleet_protocol::{ContainerSpec, DiskSpec};
use support::{Node, sleeper};

fn spec(name: &str, from: &str) -> ContainerSpec {
    ContainerSpec {
        resources: fleet_protocol::Resources {
            disk_space: Some(64 << 20),
            ..Default::default()
        },
        disk: DiskSpec {
            from: Some(from.into()),
            ..DiskSpec::default()
        },
        ..sleeper(name)
    }
}

/// A small simfs private area: root's files, a user's private file, a hard link, a symlink
/// pointing at a host secret.
fn private_area() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("etc")).unwrap();
    std::fs::create_dir_all(p.join("home/alice")).unwrap();
    std::fs::write(p.join("etc/motd"), "from openvz\n").unwrap();
    let secret = p.join("home/alice/notes");
    std::fs::write(&secret, "alice's\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::lchown(&secret, Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::lchown(p.join("home/alice"), Some(1000), Some(1000)).unwrap();
    std::fs::hard_link(&secret, p.join("home/alice/notes.link")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", p.join("etc/escape")).unwrap();
    dir
}

#[test]
fn a_private_area_becomes_the_disk_with_owners_shifted_and_links_kept() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    let area = private_area();
    let rt = node.runtime();
    assert!(
        rt.create(&spec("ovz", area.path().to_str().unwrap()))
            .unwrap()
    );
    let base = std::fs::read_to_string(format!("/proc/{}/uid_map", node.init_pid("ovz")))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u32>()
        .unwrap();

    assert_eq!(node.exec("ovz", &["cat", "/etc/motd"]), "from openvz\n");
    assert_eq!(
        node.exec("ovz", &["stat", "-c", "%u:%g %a %h", "/home/alice/notes"])
            .trim(),
        "1000:1000 640 2",
        "owner, mode and the hard link kept, as the container sees them"
    );
    assert_eq!(
        node.exec("ovz", &["readlink", "/etc/escape"]).trim(),
        "/etc/shadow"
    );
    let upper = node.container_dir("ovz").join("disk/upper");
    let notes = std::fs::symlink_metadata(upper.join("home/alice/notes")).unwrap();
    assert_eq!(
        (notes.uid(), notes.gid()),
        (base + 1000, base + 1000),
        "shifted on the host"
    );
    let motd = std::fs::symlink_metadata(upper.join("etc/motd")).unwrap();
    assert_eq!(
        motd.uid(),
        base,
        "container root's files are the range's first id"
    );
    let escape = std::fs::symlink_metadata(upper.join("etc/escape")).unwrap();
    assert!(
        escape.file_type().is_symlink(),
        "a link, never the host's file"
    );
    assert_eq!(escape.uid(), base);
    // The source is left as it was.
    assert_eq!(
        std::fs::metadata(area.path().join("home/alice/notes"))
            .unwrap()
            .uid(),
        1000
    );

    // Copied once: the container's own changes survive a restart.
    node.exec("ovz", &["rm", "/etc/motd"]);
    node.ok(&["restart", "ovz", "--timeout", "0"]);
    assert_eq!(
        node.exec("ovz", &["sh", "-c", "test -e /etc/motd || echo gone"])
            .trim(),
        "gone"
    );
    node.ok(&["destroy", "ovz"]);
}

#[test]
fn a_missing_private_area_is_refused_and_nothing_kept() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    let err = node
        .runtime()
        .create(&spec("gone", "/nonexistent/vz/private/101"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("disk.from") && text.contains("/nonexistent/vz/private/101"),
        "{text}"
    );
    assert_eq!(node.ok(&["list", "-o", "json"]).trim(), "[]");
}
