//! Copies fleet-node makes of a container's data as root on the host, tried with the hostile
//! files a container's root (or a former container, for `disk.from`) leaves in them: symlinks
//! to host files and directories, a FIFO (a copy that opened it would hang), a device node of
//! a host disk, a setuid-root program, hard links, a directory swapped for a link while the
//! copy runs, a filesystem mounted inside. Each copy must take the entries as what they are
//! (never follow, open or cross them) and leave nothing of the host changed, read, or owned by
//! host root in a way a container or host user could use.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Node, sleeper};
use fleet_protocol::{ContainerSpec, DiskSpec};

/// What the host's /etc holds (names, sizes and times), to see that nothing there changed.
fn etc_listing() -> Vec<(String, u64, i64)> {
    let mut all: Vec<_> = std::fs::read_dir("/etc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let m = e.path().symlink_metadata().ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                m.len(),
                m.mtime(),
            ))
        })
        .collect();
    all.sort();
    all
}

/// Runs `f` and fails if it takes longer than a minute (a copy hung on a FIFO).
fn bounded<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

/// The container's uid base from its init's uid_map.
fn base_of(node: &Node, name: &str) -> u32 {
    std::fs::read_to_string(format!("/proc/{}/uid_map", node.init_pid(name)))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Every entry below `dir` (not following links), with its metadata.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, std::fs::Metadata)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let is_dir = meta.is_dir();
        out.push((path.clone(), meta));
        if is_dir {
            walk(&path, out);
        }
    }
}

/// No set-id file below `dir` is owned by host root (so none gives root to whoever runs it).
fn assert_no_root_setid(dir: &Path) {
    let mut all = Vec::new();
    walk(dir, &mut all);
    for (path, meta) in all {
        if meta.is_file() && meta.mode() & 0o6000 != 0 {
            assert_ne!(
                meta.uid(),
                0,
                "{} is set-id and host root's",
                path.display()
            );
        }
    }
}

/// From inside the running container: the hostile entries, and a loop that swaps `/swap`
/// between a directory and a link to `/etc` while the copy runs.
const PLANT: &str = "ln -s /etc/shadow /evil; ln -s /etc /evil-dir; mkfifo /fifo; \
     cp /bin/busybox /su; chmod 4755 /su; echo one > /a; ln /a /b; \
     (while :; do rm -rf /swap; mkdir /swap; echo x > /swap/f; rm -rf /swap; ln -s /etc /swap; done) \
     >/dev/null 2>&1 & echo planted";

#[test]
fn snapshots_and_clones_copy_a_hostile_layer_as_it_is_and_touch_nothing_of_the_host() {
    let Some(node) = Node::new() else { return };
    let etc = etc_listing();
    node.create("hostile", &[]);
    assert_eq!(node.exec("hostile", &["sh", "-c", PLANT]), "planted\n");
    std::thread::sleep(Duration::from_millis(200));

    // Snapshot while it runs (frozen for the copy), twice, while /swap keeps changing.
    for tag in ["t1", "t2"] {
        bounded("snapshot", || node.ok(&["snapshot", "hostile", tag]));
    }
    let snap = node.root.path().join("snapshots/hostile/t1/upper");
    let meta = |p: &str| snap.join(p).symlink_metadata().unwrap();
    assert!(meta("evil").file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(snap.join("evil")).unwrap(),
        Path::new("/etc/shadow")
    );
    assert!(meta("evil-dir").file_type().is_symlink());
    assert!(meta("fifo").file_type().is_fifo());
    assert_eq!(meta("a").ino(), meta("b").ino(), "hard links kept as links");
    let base = base_of(&node, "hostile");
    assert_eq!(
        meta("su").uid(),
        base,
        "the setuid file stays the container root's"
    );
    if let Ok(m) = snap.join("swap").symlink_metadata() {
        // Whichever it was when frozen: a directory of the container's or a link, never /etc.
        assert!(m.is_dir() && m.uid() == base || m.file_type().is_symlink());
    }
    assert_no_root_setid(&node.root.path().join("snapshots"));

    // A clone started from it: its own range, the same entries inside, the original untouched.
    bounded("clone", || {
        node.ok(&["clone", "hostile", "twin", "--start"])
    });
    let twin = base_of(&node, "twin");
    assert_ne!(twin, base);
    let inside = node.exec(
        "twin",
        &[
            "sh",
            "-c",
            "readlink /evil; test -p /fifo && echo fifo; stat -c '%u %a' /su",
        ],
    );
    assert_eq!(inside, "/etc/shadow\nfifo\n0 4755\n");
    let su = node
        .container_dir("twin")
        .join("upper/su")
        .symlink_metadata()
        .unwrap();
    assert_eq!(su.uid(), twin, "owned by the clone's range on the host");
    assert_no_root_setid(&node.container_dir("twin"));

    // Restore into the stopped original: the same again.
    node.ok(&["stop", "hostile", "--timeout", "0"]);
    bounded("restore", || {
        node.ok(&["snapshot", "restore", "hostile", "t2"])
    });
    node.ok(&["start", "hostile"]);
    assert_eq!(
        node.exec("hostile", &["readlink", "/evil"]),
        "/etc/shadow\n"
    );
    assert_no_root_setid(&node.container_dir("hostile"));

    assert_eq!(etc_listing(), etc, "the host's /etc changed");
}

/// A former container's private area with every hostile kind of entry.
struct Area {
    dir: tempfile::TempDir,
    mounted: Option<PathBuf>,
}

impl Drop for Area {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

fn hostile_area() -> Area {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::support::plant_hostile(p);
    std::os::unix::fs::symlink("/", p.join("host-root")).unwrap();
    // A filesystem mounted inside the area (the copy stays on the area's own).
    std::fs::create_dir(p.join("mnt")).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(p.join("mnt"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(p.join("mnt/other-fs"), "not copied\n").unwrap();
    Area {
        mounted: Some(p.join("mnt")),
        dir,
    }
}

fn seeded(name: &str, from: &Path) -> ContainerSpec {
    ContainerSpec {
        disk: DiskSpec {
            from: Some(from.to_str().unwrap().into()),
            ..DiskSpec::default()
        },
        ..sleeper(name)
    }
}

#[test]
fn disk_from_copies_a_hostile_private_area_as_it_is_and_refuses_one_others_control() {
    let Some(node) = Node::new() else { return };
    let etc = etc_listing();
    let area = hostile_area();
    let rt = node.runtime();
    bounded("create", || {
        rt.create(&seeded("seeded", area.dir.path())).unwrap()
    });
    let base = base_of(&node, "seeded");
    let upper = node.container_dir("seeded").join("upper");
    let meta = |p: &str| upper.join(p).symlink_metadata().unwrap();
    assert!(meta("evil").file_type().is_symlink());
    assert!(meta("host-root").file_type().is_symlink());
    assert!(meta("fifo").file_type().is_fifo());
    assert_eq!(
        meta("su").uid(),
        base,
        "shifted into the range, not host root's"
    );
    assert!(
        !upper.join("mnt/other-fs").exists(),
        "crossed into another filesystem"
    );
    assert_no_root_setid(&node.container_dir("seeded"));
    // Inside: the links point into the container's own tree; the device node does not open.
    let inside = node.run(&[
        "exec",
        "seeded",
        "--",
        "sh",
        "-c",
        "ls /host-root/ | grep -c -x proc; head -c 1 /disk >/dev/null 2>&1 && echo opened; true",
    ]);
    assert_eq!(String::from_utf8_lossy(&inside.stdout), "1\n");

    // A source another user controls could be swapped under the copy: refused, nothing made.
    let theirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
    let err = rt
        .create(&seeded("theirs", theirs.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("owned by root"), "{err}");
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = rt
        .create(&seeded("open", open.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("writable"), "{err}");
    assert_eq!(etc_listing(), etc, "the host's /etc changed");
}
