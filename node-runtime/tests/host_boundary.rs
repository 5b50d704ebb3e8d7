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

/// Points `name`'s /etc/hostname at `target` (from inside) and restarts it, which must succeed.
fn link_hostname_and_restart(node: &Node, name: &str, target: &Path) {
    sh(
        node,
        name,
        &format!("ln -sf {} /etc/hostname", target.display()),
    );
    let out = restart(node, name);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    link_hostname_and_restart(&node, "sym", &secret);
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
    link_hostname_and_restart(&node, "sym", &missing);
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

/// Runs `argv` as host user nobody (util-linux setpriv), the unprivileged host user of the
/// threat model. Through a shell: setpriv itself still holds root's capabilities when it execs,
/// so an exec of `argv[0]` straight from setpriv would search the 0700 directories as root.
fn as_nobody(argv: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(["/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(argv)
        .output()
        .expect("setpriv (util-linux)")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A container made with a disk image, stopped and started as the start path makes it.
fn with_disk(node: &Node, name: &str) {
    node.create(name, &["--stopped"]);
    node.ok(&["set", name, "--disk-space", "16Mi"]);
    node.ok(&["start", name]);
}

#[test]
fn the_store_is_root_only_and_an_old_store_is_tightened_at_the_next_run() {
    let Some(node) = Node::new() else { return };
    node.create("perm", &[]);
    let root = node.root.path();
    let dir = node.container_dir("perm");
    let dirs = [
        root.to_owned(),
        root.join("containers"),
        root.join("templates"),
        dir.clone(),
    ];
    for d in &dirs[..3] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    // The container's own: searchable by its user namespace's group only.
    assert_eq!(mode(&dir), 0o710);
    assert_eq!(mode(&dir.join("console.log")), 0o600);
    // A store made before the rule: everything 0755 / 0644.
    for d in &dirs {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        dir.join("console.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    node.ok(&["list"]);
    for d in &dirs[..3] {
        assert_eq!(mode(d), 0o700, "{} after a run", d.display());
    }
    // The container's own pieces at its next start.
    node.ok(&["restart", "perm", "--timeout", "0"]);
    assert_eq!(mode(&dir), 0o710);
    assert_eq!(mode(&dir.join("console.log")), 0o600);
}

#[test]
fn host_user_nobody_cannot_run_a_setuid_root_file_made_inside() {
    let Some(node) = Node::new() else { return };
    // Privileged (container root is host root: the finding's case) and unprivileged.
    node.create("suid", &["--privileged"]);
    node.create("suidns", &[]);
    with_disk(&node, "suiddisk");
    for name in ["suid", "suidns", "suiddisk"] {
        // Container root makes a setuid-root copy of busybox (as its `id` applet) in /tmp; it
        // runs inside, from the upper layer (on the disk image for the second container).
        assert_eq!(
            sh(
                &node,
                name,
                "cp /bin/busybox /tmp/id && chmod 4755 /tmp/id && /tmp/id -u",
            ),
            "0\n"
        );
    }
    let planted = [
        node.container_dir("suid").join("upper/tmp/id"),
        node.container_dir("suidns").join("upper/tmp/id"),
        node.container_dir("suiddisk").join("disk/upper/tmp/id"),
    ];
    for file in &planted {
        let meta = std::fs::metadata(file).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o4000,
            0o4000,
            "the attack is staged"
        );
        let path = file.to_str().unwrap();
        let out = as_nobody(&[path, "-u"]);
        assert!(
            !out.status.success(),
            "nobody ran {path}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    }
    // And were the path reachable, the disk's host-side mount ignores set-id bits, device
    // nodes and executables.
    let target = node.container_dir("suiddisk").join("disk");
    let target = target.to_str().unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(target))
        .expect("the disk is mounted on the host");
    let opts = line.split(' ').nth(5).unwrap();
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|o| o == flag), "{flag} missing: {line}");
    }
}

#[test]
fn host_user_nobody_cannot_read_a_disk_image() {
    let Some(node) = Node::new() else { return };
    with_disk(&node, "img");
    sh(&node, "img", "echo tenant-data > /data");
    let image = node.container_dir("img").join("disk.img");
    assert_eq!(mode(&image), 0o600);
    let out = as_nobody(&["head", "-c", "1", image.to_str().unwrap()]);
    assert!(!out.status.success(), "nobody read disk.img");
    assert!(out.stdout.is_empty());
}

/// Every world-writable directory under `dir` (template /tmp dirs are 1777), not entering the
/// mount points of containers' roots.
fn world_writable_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        if meta.permissions().mode() & 0o002 != 0 {
            out.push(path.clone());
        }
        world_writable_dirs(&path, out);
    }
}

#[test]
fn no_world_writable_directory_of_a_template_or_upper_layer_is_writable_by_nobody() {
    let Some(node) = Node::new() else { return };
    node.create("bb", &[]);
    node.ok(&["create", "hostt", "--template", "host"]);
    node.create("uns", &["--user-namespace"]);
    with_disk(&node, "disky");
    for name in ["bb", "hostt", "uns", "disky"] {
        sh(&node, name, "mkdir -p /tmp/open && chmod 1777 /tmp/open");
    }
    let mut open = Vec::new();
    world_writable_dirs(node.root.path(), &mut open);
    let shown: Vec<String> = open.iter().map(|p| p.display().to_string()).collect();
    // The staged ones are there: template /tmp (1777) and the containers' own.
    for want in [
        "templates/busybox/tmp",
        "templates/host/tmp",
        "containers/bb/upper/tmp/open",
        "containers/uns/upper/tmp/open",
        "containers/disky/disk/upper/tmp/open",
    ] {
        assert!(
            shown.iter().any(|s| s.ends_with(want)),
            "{want} not among {shown:?}"
        );
    }
    for dir in &open {
        let probe = dir.join("nobody-was-here");
        let out = as_nobody(&["/bin/sh", "-c", &format!(": > '{}'", probe.display())]);
        assert!(
            !out.status.success(),
            "nobody created a file in {}",
            dir.display()
        );
        assert!(!probe.exists());
    }
}

/// Password hashes of the host's accounts (not the lock markers `*`, `!`, `!*` or empty).
fn host_hashes() -> Vec<String> {
    std::fs::read_to_string("/etc/shadow")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|h| h.trim_start_matches('!').to_owned())
        .filter(|h| h.len() > 2)
        .collect()
}

#[test]
fn the_host_templates_shadow_locks_every_account_and_holds_no_host_hash() {
    let Some(node) = Node::new() else { return };
    node.ok(&["create", "pw", "--template", "host"]);
    let shadow = sh(&node, "pw", "cat /etc/shadow");
    assert!(shadow.lines().any(|l| l.starts_with("root:")), "{shadow}");
    for line in shadow.lines() {
        assert_eq!(line.split(':').nth(1), Some("!*"), "not locked: {line}");
    }
    for hash in host_hashes() {
        assert!(!shadow.contains(&hash), "a host hash is inside");
    }
    let gshadow = sh(&node, "pw", "cat /etc/gshadow 2>/dev/null || true");
    for line in gshadow.lines() {
        assert_eq!(line.split(':').nth(1), Some("!*"), "not locked: {line}");
    }
    assert_eq!(
        sh(
            &node,
            "pw",
            "ls /etc/shadow- /etc/gshadow- /etc/security/opasswd 2>/dev/null | wc -l"
        )
        .trim(),
        "0"
    );
}

#[test]
fn the_host_template_has_no_ssh_host_keys_or_other_private_files() {
    let Some(node) = Node::new() else { return };
    let host_keys = std::fs::read_dir("/etc/ssh")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ssh_host_"))
                .count()
        })
        .unwrap_or(0);
    node.ok(&["create", "keys", "--template", "host"]);
    assert_eq!(
        sh(
            &node,
            "keys",
            "ls /etc/ssh/ 2>/dev/null | grep -c ^ssh_host_ || true"
        )
        .trim(),
        "0",
        "the host has {host_keys} ssh host key files; none may be inside"
    );
    // Nothing the host keeps from other users came along (sudoers is policy, kept).
    let private = sh(
        &node,
        "keys",
        "find /etc -xdev ! -perm -o=r -type f ! -name shadow ! -name gshadow \
         ! -name sudoers ! -path '/etc/sudoers.d/*' 2>/dev/null",
    );
    assert_eq!(private, "", "files the host keeps private are inside");
}

#[test]
fn each_container_gets_its_own_machine_id_kept_across_restarts() {
    let Some(node) = Node::new() else { return };
    node.ok(&["create", "m1", "--template", "host"]);
    node.ok(&["create", "m2", "--template", "host"]);
    let id = |name: &str| sh(&node, name, "cat /etc/machine-id");
    let (a, b) = (id("m1"), id("m2"));
    for v in [&a, &b] {
        assert_eq!(v.len(), 33, "{v:?}");
        assert!(v.trim().chars().all(|c| c.is_ascii_hexdigit()), "{v:?}");
    }
    assert_ne!(a, b, "two containers share a machine-id");
    if let Ok(host) = std::fs::read_to_string("/etc/machine-id") {
        assert_ne!(a, host, "the container has the host's machine-id");
    }
    node.ok(&["restart", "m1", "--timeout", "0"]);
    assert_eq!(id("m1"), a, "machine-id changed at restart");
}

#[test]
fn a_host_template_cached_before_the_scrub_is_scrubbed_before_its_next_use() {
    let Some(node) = Node::new() else { return };
    node.ok(&["create", "old", "--template", "host"]);
    // A cache as an older fleet-node left it: a host key and no marker.
    let lower = node.root.path().join("templates/host");
    std::fs::write(lower.join("etc/ssh/ssh_host_old_key"), "PRIVATE").unwrap();
    std::fs::set_permissions(
        lower.join("etc/ssh/ssh_host_old_key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::remove_file(lower.join(node_runtime::template::host_etc::MARKER)).unwrap();
    node.ok(&["create", "new", "--template", "host"]);
    assert!(!lower.join("etc/ssh/ssh_host_old_key").exists());
    assert_eq!(
        sh(&node, "new", "ls /etc/ssh | grep -c ssh_host_ || true").trim(),
        "0"
    );
}
