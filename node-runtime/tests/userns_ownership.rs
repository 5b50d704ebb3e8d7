//! Who owns what under a user namespace: container root cannot write a host-owned cgroup file
//! even through a read-write cgroup mount, and switching `privileged` either way moves the
//! writable layer's owners (set-id bits, capabilities, ACLs, overlay metadata kept) without
//! following a link the container made. The ranges themselves: tests/userns.rs.

mod support;

use std::os::unix::fs::MetadataExt;

use support::{Node, uid_map};

#[test]
fn container_root_cannot_write_a_host_owned_cgroup_file_even_through_a_writable_mount() {
    let Some(node) = Node::new() else { return };
    let pid = node.create_running("cg");
    // As container root with every capability of its user namespace, but in the host's mount
    // namespace, where the cgroup hierarchies are mounted read-write: what a container that
    // got a writable cgroup mount could do. The uid map alone must stop it.
    let as_container_root = |script: &str, args: &[String]| {
        std::process::Command::new("nsenter")
            .arg(format!("--user=/proc/{pid}/ns/user"))
            .args(["--setuid=0", "--setgid=0", "--", "sh", "-c", script, "sh"])
            .args(args)
            .output()
            .unwrap()
    };
    let who = as_container_root("id -u", &[]);
    assert_eq!(
        String::from_utf8_lossy(&who.stdout),
        "0\n",
        "root of its user namespace"
    );
    let mut dirs = node.cgroup_dirs("cg");
    dirs.extend(
        dirs.clone()
            .iter()
            .filter_map(|d| d.parent().map(|p| p.to_owned())),
    );
    let files: Vec<String> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().flatten())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.path().display().to_string())
        .collect();
    assert!(files.len() > 10, "looked at the cgroup files: {files:?}");
    let out = as_container_root(
        r#"for f in "$@"; do [ -w "$f" ] && echo "$f"; done; true"#,
        &files,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "cgroup files writable by container root"
    );
    // A real write of the value each limit already holds: refused, not just reported so.
    let limits: Vec<String> = files
        .iter()
        .filter(|f| {
            ["memory.limit_in_bytes", "pids.max", "memory.max"]
                .iter()
                .any(|l| f.ends_with(l))
        })
        .cloned()
        .collect();
    assert!(!limits.is_empty());
    for file in limits {
        let value = std::fs::read_to_string(&file).unwrap();
        let out = as_container_root(
            r#"printf '%s' "$2" > "$1""#,
            &[file.clone(), value.trim().to_owned()],
        );
        assert!(!out.status.success(), "container root wrote {file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Permission denied"), "{file}: {err}");
    }
    // And from inside, whatever /sys/fs/cgroup shows, nothing there is writable: every mount
    // there is read-only (busybox's `test -w` says yes to root on a read-only mount, so the
    // mounts are what is checked; tests/confinement.rs makes the writes).
    let mounts = node.exec("cg", &["cat", "/proc/self/mounts"]);
    let writable: Vec<&str> = mounts
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|p| p.starts_with("/sys/fs/cgroup"))
        })
        .filter(|l| {
            !l.split(' ')
                .nth(3)
                .is_some_and(|o| o.split(',').any(|o| o == "ro"))
        })
        .collect();
    assert!(
        writable.is_empty(),
        "writable cgroup mounts inside: {writable:?}"
    );
}

/// The container's spec as stored, for an update through the runtime.
fn stored_spec(node: &Node, name: &str) -> fleet_protocol::ContainerSpec {
    node.runtime().store.read_config(name).unwrap().unwrap()
}

/// Owner, group and mode of a path on the host, without following a symlink.
fn owner(path: &std::path::Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

#[test]
fn switching_privileged_both_ways_keeps_the_data_and_who_owns_it() {
    let Some(node) = Node::new() else { return };
    node.create("sw", &[]);
    let base = uid_map(node.init_pid("sw")).1 as u32;
    // A host file the container points a symlink at: the shift must not follow it.
    let bait = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::chown(bait.path(), Some(4242), Some(4242)).unwrap();
    node.exec(
        "sw",
        &[
            "sh",
            "-c",
            &format!(
                "mkdir -p /data/sub && echo hello > /data/f1000 && chown 1000:1001 /data/f1000 \
                 && cp /bin/busybox /data/suid && chown 1000:1000 /data/suid && chmod 6755 /data/suid \
                 && ln /data/f1000 /data/hardlink && ln -s {} /data/bait && chown -h 1000:1000 /data/bait \
                 && mkfifo /data/fifo && chown 7:7 /data/fifo && chown 1000:1000 /data/sub \
                 && rm -rf /etc && mkdir /etc && echo mine > /etc/only && rm /bin/vi",
                bait.path().display()
            ),
        ],
    );
    let upper = node.container_dir("sw").join("upper");
    let data = upper.join("data");
    // A file capability and an ACL, as the container's root would have set them (v3 for its
    // namespace's root; an ACL entry for its uid 1000).
    let cap = {
        let mut v = (0x0300_0000u32 | 1).to_le_bytes().to_vec();
        v.extend_from_slice(&(1u32 << 13).to_le_bytes()); // CAP_NET_RAW permitted
        v.extend_from_slice(&[0; 12]);
        v.extend_from_slice(&base.to_le_bytes());
        v
    };
    let caps_file = data.join("suid");
    node_runtime::sys::xattr::set(&caps_file, c"security.capability", &cap).unwrap();
    let acl = |uid: u32| {
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (1u16, 6u16, u32::MAX),
            (2, 4, uid),
            (4, 4, u32::MAX),
            (0x10, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ] {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        }
        v
    };
    node_runtime::sys::xattr::set(
        &data.join("f1000"),
        c"system.posix_acl_access",
        &acl(base + 1000),
    )
    .unwrap();
    // (the ACL's mask is the group bits now)
    assert_eq!(
        owner(&data.join("f1000")),
        (base + 1000, base + 1001, 0o640)
    );

    let mut spec = stored_spec(&node, "sw");
    spec.privileged = true;
    node.runtime().update(&spec, true).unwrap();
    assert_eq!(
        uid_map(node.init_pid("sw")),
        (0, 0, 4_294_967_295),
        "now privileged"
    );
    assert_eq!(
        owner(&data.join("f1000")),
        (1000, 1001, 0o640),
        "host ids now"
    );
    assert_eq!(
        owner(&data.join("suid")),
        (1000, 1000, 0o6755),
        "set-id bits kept"
    );
    assert_eq!(owner(&data.join("bait")).0, 1000, "the symlink itself");
    assert_eq!(
        owner(bait.path()).0,
        4242,
        "its target on the host untouched"
    );
    assert_eq!(owner(&data.join("fifo")).0, 7);
    assert_eq!(owner(&data.join("sub")).0, 1000);
    assert_eq!(owner(&upper).0, 0, "the layer's root");
    let cap_now = node_runtime::sys::xattr::get(&caps_file, c"security.capability").unwrap();
    assert_eq!(cap_now.len(), 20, "v2: valid for host root now");
    assert_eq!(&cap_now[4..8], &cap[4..8], "the same capability");
    let acl_now =
        node_runtime::sys::xattr::get(&data.join("f1000"), c"system.posix_acl_access").unwrap();
    assert_eq!(acl_now, acl(1000), "ACL entry moved");
    assert_eq!(
        node.exec("sw", &["cat", "/data/hardlink"]),
        "hello\n",
        "data kept"
    );
    let overlay = "ls /etc; test -e /bin/vi && echo vi-back; true";
    assert_eq!(
        node.exec("sw", &["sh", "-c", overlay]),
        "only\n",
        "an opaque directory and a whiteout stay what they were"
    );
    assert_eq!(
        node.exec("sw", &["stat", "-c", "%u:%g", "/data/f1000"])
            .trim(),
        "1000:1001"
    );

    spec.privileged = false;
    node.runtime().update(&spec, true).unwrap();
    assert_eq!(
        uid_map(node.init_pid("sw")).1 as u32,
        base,
        "the same range again"
    );
    assert_eq!(
        owner(&data.join("f1000")),
        (base + 1000, base + 1001, 0o640)
    );
    assert_eq!(
        owner(&data.join("hardlink")).0,
        base + 1000,
        "hard links once, right"
    );
    assert_eq!(
        owner(&data.join("suid")),
        (base + 1000, base + 1000, 0o6755)
    );
    assert_eq!(owner(bait.path()).0, 4242);
    assert_eq!(
        node_runtime::sys::xattr::get(&caps_file, c"security.capability").unwrap(),
        cap,
        "v3 for the range's root again"
    );
    assert_eq!(
        node.exec("sw", &["stat", "-c", "%u:%g", "/data/f1000"])
            .trim(),
        "1000:1001"
    );
    assert_eq!(node.exec("sw", &["cat", "/data/f1000"]), "hello\n");
    assert_eq!(node.exec("sw", &["sh", "-c", overlay]), "only\n");
    node.exec(
        "sw",
        &["sh", "-c", "echo more >> /data/f1000 && rm /data/fifo"],
    );
}
