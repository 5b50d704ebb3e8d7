//! Issue 10's host-side findings as attacks: a hostile container root (or host user) stages
//! something, fleet-node does its normal work, and the test asserts the attack failed. Real
//! containers, real overlay, as root; never skipped in CI (see `support::Node::new`).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::Node;

/// A root-owned 0600 host file the container must never reach, in the test's own root.
fn host_secret(node: &Node) -> PathBuf {
    let secret = node.root.path().join("host-secret");
    std::fs::write(&secret, "root:$6$do-not-touch:19000::::::\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    secret
}

fn assert_untouched(secret: &Path) {
    assert_eq!(
        std::fs::read_to_string(secret).unwrap(),
        "root:$6$do-not-touch:19000::::::\n",
        "fleet-node wrote through the container's link into a host file"
    );
    let mode = std::fs::metadata(secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

fn sh(node: &Node, name: &str, script: &str) -> String {
    node.exec(name, &["/bin/sh", "-c", script])
}

fn restart(node: &Node, name: &str) -> std::process::Output {
    node.ok(&["stop", name, "--timeout", "0"]);
    node.run(&["start", name])
}

#[test]
fn symlinked_etc_hostname_does_not_write_the_host_file_at_restart() {
    let Some(node) = Node::new() else { return };
    let secret = host_secret(&node);
    let missing = node.root.path().join("created-by-the-container");
    node.ok(&[
        "create",
        "sym",
        "--template",
        "host",
        "--hostname",
        "sym-01",
    ]);
    // The container points its /etc/hostname at the host path.
    sh(
        &node,
        "sym",
        &format!("ln -sf {} /etc/hostname", secret.display()),
    );
    let out = restart(&node, "sym");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_untouched(&secret);
    assert_eq!(sh(&node, "sym", "cat /etc/hostname"), "sym-01\n");
    assert_eq!(
        sh(
            &node,
            "sym",
            "test -L /etc/hostname && echo link || echo file"
        ),
        "file\n"
    );
    // A link to a missing host path: the target is not created.
    sh(
        &node,
        "sym",
        &format!("ln -sf {} /etc/hostname", missing.display()),
    );
    let out = restart(&node, "sym");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !missing.exists(),
        "fleet-node created the link's host target"
    );
}

#[test]
fn hard_linked_etc_hostname_in_the_upper_layer_is_not_written_through() {
    let Some(node) = Node::new() else { return };
    let secret = host_secret(&node);
    node.ok(&[
        "create",
        "hard",
        "--template",
        "host",
        "--hostname",
        "hard-01",
    ]);
    node.ok(&["stop", "hard", "--timeout", "0"]);
    // A hard link to a host file, where the container's /etc/hostname lives (container root
    // cannot name a host file, but a layer on the host's file system can hold one).
    let upper_file = node.container_dir("hard").join("upper/etc/hostname");
    std::fs::remove_file(&upper_file).unwrap();
    std::fs::hard_link(&secret, &upper_file).unwrap();
    node.ok(&["start", "hard"]);
    assert_untouched(&secret);
    assert_eq!(sh(&node, "hard", "cat /etc/hostname"), "hard-01\n");
}

#[test]
fn etc_as_a_dotdot_symlink_out_of_the_tree_does_not_reach_the_host() {
    let Some(node) = Node::new() else { return };
    let secret = host_secret(&node);
    let dir = secret.parent().unwrap().to_owned();
    std::fs::write(dir.join("hostname"), "host's own\n").unwrap();
    node.ok(&[
        "create",
        "dots",
        "--template",
        "host",
        "--hostname",
        "dots-01",
    ]);
    // /etc replaced by a relative symlink that, followed from the upper layer on the host,
    // climbs to the directory holding the secret.
    let ups = "../".repeat(32);
    sh(
        &node,
        "dots",
        &format!(
            "rm -rf /etc && ln -s {ups}{} /etc",
            dir.strip_prefix("/").unwrap().display()
        ),
    );
    let out = restart(&node, "dots");
    // Inside the tree the link dangles: the start is refused, naming the file.
    assert!(!out.status.success(), "start should refuse a dangling /etc");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/etc/hostname"), "{err}");
    assert_untouched(&secret);
    assert_eq!(
        std::fs::read_to_string(dir.join("hostname")).unwrap(),
        "host's own\n"
    );
}
