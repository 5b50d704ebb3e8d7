//! Each container has a machine-id of its own where its template has one: a tarball made from
//! an installed system bakes one in (every container of it would share it, and with the machine
//! it was made on). fleet-node writes a fresh one into the container's upper layer at the first
//! start and keeps it; busybox, which has none, gets none. The host template's case (the host's
//! id left out of the cache) is `host_boundary`.

mod support;

use support::Node;

const BAKED: &str = "0123456789abcdef0123456789abcdef\n";

/// A tarball template: busybox and an /etc/machine-id, as an image of an installed system has.
fn tarball_with_a_machine_id(dir: &std::path::Path) -> (String, String) {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", tree.join("bin/busybox")).unwrap();
    for applet in ["sh", "sleep", "cat"] {
        std::os::unix::fs::symlink("busybox", tree.join("bin").join(applet)).unwrap();
    }
    std::fs::write(tree.join("etc/machine-id"), BAKED).unwrap();
    let tarball = dir.join("baked.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&tree)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let sha = node_runtime::template::tarball::sha256_file(&tarball).unwrap();
    (tarball.display().to_string(), sha)
}

fn id(node: &Node, name: &str) -> String {
    node.exec(name, &["/bin/cat", "/etc/machine-id"])
}

fn assert_fresh(id: &str, others: &[&str]) {
    assert_eq!(id.len(), 33, "{id:?}");
    assert!(id.trim().chars().all(|c| c.is_ascii_hexdigit()), "{id:?}");
    assert!(!others.contains(&id), "{id:?} is shared");
}

#[test]
fn a_template_with_a_machine_id_gives_each_container_its_own() {
    let Some(node) = Node::new() else { return };
    let src = tempfile::tempdir().unwrap();
    let (tarball, sha) = tarball_with_a_machine_id(src.path());
    let host = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let mut seen: Vec<String> = vec![BAKED.to_owned(), host];
    for (name, template, privileged) in [
        ("tar-a", tarball.as_str(), false),
        ("tar-b", tarball.as_str(), true),
    ] {
        let mut args = vec!["create", name, "--template", template];
        if template == tarball {
            args.extend(["--sha256", &sha]);
        }
        if privileged {
            args.push("--privileged");
        }
        args.extend(["--", "/bin/sleep", "1000"]);
        node.ok(&args);
        let got = id(&node, name);
        let others: Vec<&str> = seen.iter().map(String::as_str).collect();
        assert_fresh(&got, &others);
        node.ok(&["restart", name, "--timeout", "0"]);
        assert_eq!(
            id(&node, name),
            got,
            "{name}: machine-id changed at restart"
        );
        seen.push(got);
    }
    node.create("bb", &[]);
    let out = node.run(&["exec", "bb", "--", "test", "-e", "/etc/machine-id"]);
    assert!(
        !out.status.success(),
        "busybox carries no machine-id: none is added"
    );
}
