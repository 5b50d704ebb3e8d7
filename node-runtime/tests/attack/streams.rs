//! Byte streams and host paths a hostile party controls, unpacked or written by fleet-node as
//! root: a move's incoming image (`<root>/incoming/NAME.img`, from a source node whose tenant
//! made the files in it and an orchestrator that only relays) and its pre-dump rounds
//! (`NAME.pre-N`), a checkpoint directory given on
//! the command line, the checkpoint stream's sender side, and `install-unit`'s files. Each
//! attack is made as that party would make it, and the host is checked untouched.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::{Node, sleeper};
use base64::Engine as _;
use fleet_protocol::transfer::{CHUNK_MAX, Chunk, ImageInfo};
use fleet_protocol::{ContainerSpec, Request, Response};
use node_runtime::transfer::{Digest, Transfers, handle};

const DISK: u64 = 64 << 20;

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec {
        hostname: "moved".into(),
        resources: fleet_protocol::Resources {
            disk_space: Some(DISK),
            ..Default::default()
        },
        ..sleeper(name)
    }
}

/// An ext4 image whose writable layer holds what a hostile tenant leaves: links to host files
/// (one where fleet-node writes /etc/hostname), a FIFO, a node of a host disk, a setuid-root
/// program, a 1777 directory.
fn hostile_image(dir: &Path) -> Vec<u8> {
    let tree = dir.join("tree");
    let upper = tree.join("upper");
    std::fs::create_dir_all(upper.join("etc")).unwrap();
    std::fs::create_dir_all(tree.join("work")).unwrap();
    crate::support::plant_hostile(&upper);
    std::os::unix::fs::symlink("/etc/passwd", upper.join("etc/hostname")).unwrap();
    std::fs::create_dir(upper.join("tmp")).unwrap();
    std::fs::set_permissions(upper.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let image = dir.join("disk.img");
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&tree)
        .arg(&image)
        .arg(format!("{}k", DISK >> 10))
        .output()
        .unwrap();
    assert!(out.status.success(), "mkfs: {out:?}");
    std::fs::read(&image).unwrap()
}

fn chunk(offset: u64, data: &[u8]) -> Chunk {
    let compressed = zstd::bulk::compress(data, 1).unwrap();
    Chunk {
        offset,
        len: data.len() as u32,
        data: base64::engine::general_purpose::STANDARD.encode(compressed),
        stored: false,
        raw: None,
    }
}

fn begin(name: &str, size: u64) -> Request {
    Request::ImportBegin {
        fleet: "t".into(),
        spec: Box::new(spec(name)),
        from: "source".into(),
        image: ImageInfo {
            size,
            allocated: size,
            inodes: 16384,
        },
        checkpoint: None,
        lock_timeout_secs: 0,
        user: String::new(),
    }
}

fn error(response: Response) -> String {
    match response {
        Response::Error { message } => message,
        other => panic!("accepted: {other:?}"),
    }
}

/// Sends the whole image and commits it.
fn send(rt: &node_runtime::Runtime, t: &mut Transfers, name: &str, image: &[u8]) -> Response {
    let r = handle(rt, t, begin(name, image.len() as u64));
    assert!(matches!(r, Response::Moved { .. }), "{r:?}");
    let mut digest = Digest::default();
    for (i, part) in image.chunks(CHUNK_MAX as usize).enumerate() {
        let offset = (i * CHUNK_MAX as usize) as u64;
        digest.update(offset, part);
        let r = handle(
            rt,
            t,
            Request::ImportChunk {
                name: name.into(),
                chunk: chunk(offset, part),
            },
        );
        assert!(matches!(r, Response::Moved { .. }), "{r:?}");
    }
    handle(
        rt,
        t,
        Request::ImportCommit {
            name: name.into(),
            digest: digest.hex(),
            layer_ids: 0,
            checkpoint_digest: None,
            pre_dump_digests: Vec::new(),
        },
    )
}

fn digest_of(path: &str) -> (Vec<u8>, u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (std::fs::read(path).unwrap(), meta.uid(), meta.mode())
}

#[test]
fn a_hostile_incoming_image_and_hostile_move_messages_leave_the_host_untouched() {
    let Some(node) = Node::with_loop_devices() else {
        return;
    };
    let (shadow, passwd) = (digest_of("/etc/shadow"), digest_of("/etc/passwd"));
    let rt = node.runtime();
    let mut t = Transfers::default();
    let incoming = node.root.path().join("incoming");

    // A name that is a path: refused before anything is made.
    for name in ["../escape", "a/b", "..", ""] {
        error(handle(&rt, &mut t, begin(name, DISK)));
        assert!(!node.root.path().join("escape.img").exists());
        assert!(
            !node
                .root
                .path()
                .parent()
                .unwrap()
                .join("escape.img")
                .exists()
        );
    }
    // A link left at the image's path (a host file behind it) is replaced, never written.
    std::fs::create_dir_all(&incoming).unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), "victim\n").unwrap();
    std::os::unix::fs::symlink(victim.path(), incoming.join("bad.img")).unwrap();
    assert!(matches!(
        handle(&rt, &mut t, begin("bad", DISK)),
        Response::Moved { .. }
    ));
    assert_eq!(std::fs::read_to_string(victim.path()).unwrap(), "victim\n");
    assert!(
        !incoming
            .join("bad.img")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Chunks outside the image, overlapping, or decompressing past what they announce.
    let zeros = vec![0u8; 1 << 20];
    let bomb = Chunk {
        len: 16,
        ..chunk(0, &zeros)
    };
    for bad in [chunk(DISK - 10, &zeros), bomb] {
        let r = handle(
            &rt,
            &mut t,
            Request::ImportChunk {
                name: "bad".into(),
                chunk: bad,
            },
        );
        error(r);
    }
    let ok = handle(
        &rt,
        &mut t,
        Request::ImportChunk {
            name: "bad".into(),
            chunk: chunk(1 << 20, &zeros),
        },
    );
    assert!(matches!(ok, Response::Moved { .. }), "{ok:?}");
    error(handle(
        &rt,
        &mut t,
        Request::ImportChunk {
            name: "bad".into(),
            chunk: chunk(0, &zeros),
        },
    ));
    // A checksum that does not match: nothing of it is kept.
    let r = handle(
        &rt,
        &mut t,
        Request::ImportCommit {
            name: "bad".into(),
            digest: "00".repeat(32),
            layer_ids: 0,
            checkpoint_digest: None,
            pre_dump_digests: Vec::new(),
        },
    );
    error(r);
    assert!(!incoming.join("bad.img").exists());
    assert!(!node.container_dir("bad").join("config.json").exists());

    // A well-formed image of hostile files becomes a running container; the host is untouched.
    let work = tempfile::tempdir().unwrap();
    let image = hostile_image(work.path());
    let r = send(&rt, &mut t, "moved", &image);
    assert!(matches!(r, Response::Moved { .. }), "{r:?}");
    let base: u32 = std::fs::read_to_string(format!("/proc/{}/uid_map", node.init_pid("moved")))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(digest_of("/etc/shadow"), shadow, "host /etc/shadow changed");
    assert_eq!(digest_of("/etc/passwd"), passwd, "host /etc/passwd changed");
    let upper = node.container_dir("moved").join("disk/upper");
    let su = upper.join("su").symlink_metadata().unwrap();
    assert_eq!(
        su.uid(),
        base,
        "the setuid program is the range's, not host root's"
    );
    assert!(
        upper
            .join("evil")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let disk = node.container_dir("moved").join("disk");
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(disk.to_str().unwrap()))
        .expect("the disk is mounted on the host");
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(line.split(' ').nth(5).unwrap().contains(flag), "{line}");
    }
    let inside = node.run(&[
        "exec",
        "moved",
        "--",
        "sh",
        "-c",
        "cat /etc/hostname; head -c 1 /disk >/dev/null 2>&1 && echo opened-disk; \
         test -p /fifo && echo fifo; stat -c '%u %a' /su",
    ]);
    // The link at /etc/hostname leads to the container's own /etc/passwd, not the host's.
    let own = node.exec("moved", &["cat", "/etc/passwd"]);
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout),
        format!("{own}fifo\n0 4755\n")
    );
    assert_ne!(own.as_bytes(), &passwd.0[..]);
}

#[test]
fn a_checkpoint_directory_others_could_swap_is_refused() {
    let Some(node) = Node::new() else { return };
    let Some(criu) = crate::support::criu() else {
        return;
    };
    let criu = criu.to_str().unwrap().to_owned();
    node.create("ck", &[]);
    node.create("ck-stopped", &["--stopped"]);
    // A parent another user may write (not sticky), and one another user owns.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let theirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
    for parent in [shared.path(), theirs.path()] {
        let dir = parent.join("images");
        let err = node.fails(&["--criu", &criu, "checkpoint", "ck", dir.to_str().unwrap()]);
        assert!(err.contains("another user could swap"), "{err}");
        assert!(!dir.exists());
        std::fs::create_dir(&dir).unwrap();
        let err = node.fails(&[
            "--criu",
            &criu,
            "restore",
            "ck-stopped",
            dir.to_str().unwrap(),
        ]);
        assert!(err.contains("another user could swap"), "{err}");
    }
    assert_eq!(node.status("ck")["state"], "running", "nothing changed");
}

/// A target's pre-dump rounds from a hostile orchestrator: a name that is a path, rounds out of
/// order or beyond the most, sizes out of bounds, a chunk past its round's size; an abort
/// leaves nothing of a round received.
#[test]
fn hostile_pre_dump_rounds_are_refused_and_an_abort_leaves_nothing() {
    let Some(node) = Node::new() else { return };
    let rt = node.runtime();
    let mut t = Transfers::default();
    let incoming = node.root.path().join("incoming");
    let round = |name: &str, round: u32, bytes: u64| Request::ImportPreDump {
        fleet: "t".into(),
        name: name.into(),
        round,
        bytes,
        lock_timeout_secs: 0,
        user: String::new(),
    };
    for name in ["../escape", "a/b", "..", ""] {
        error(handle(&rt, &mut t, round(name, 1, 100)));
    }
    let above = node.root.path().parent().unwrap();
    assert!(!above.join("escape.pre-1").exists() && !incoming.join("escape.pre-1").exists());
    let why = error(handle(&rt, &mut t, round("c", 2, 100)));
    assert!(why.contains("the next is round 1"), "{why}");
    error(handle(&rt, &mut t, round("c", 1, 0)));
    error(handle(&rt, &mut t, round("c", 1, u64::MAX)));
    for n in 1..=fleet_protocol::transfer::PRE_DUMP_ROUNDS_MAX {
        let r = handle(&rt, &mut t, round("c", n, 10));
        assert!(matches!(r, Response::Moved { .. }), "round {n}: {r:?}");
    }
    let over = fleet_protocol::transfer::PRE_DUMP_ROUNDS_MAX + 1;
    error(handle(&rt, &mut t, round("c", over, 10)));
    // A chunk larger than its round announced is refused, nothing written past it.
    let r = handle(
        &rt,
        &mut t,
        Request::ImportCheckpoint {
            name: "c".into(),
            chunk: chunk(0, &[7u8; 64]),
        },
    );
    error(r);
    assert!(incoming.join("c.pre-1").exists());
    let r = handle(&rt, &mut t, Request::ImportAbort { name: "c".into() });
    assert!(matches!(r, Response::Moved { changed: true }), "{r:?}");
    let left = crate::support::entry_names(&incoming);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn the_checkpoint_stream_sends_no_link_and_never_blocks_on_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("core-1.img"), b"core").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", dir.path().join("link.img")).unwrap();
    nix::unistd::mkfifo(
        &dir.path().join("fifo.img"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut wire = Vec::new();
    let sent = node_runtime::checkpoint::stream::pack(dir.path(), &mut wire).unwrap();
    assert_eq!(sent.files, 1);
    let shadow = std::fs::read("/etc/shadow").unwrap();
    assert!(
        !wire
            .windows(shadow.len().min(32))
            .any(|w| w == &shadow[..shadow.len().min(32)]),
        "the host's /etc/shadow went into the stream"
    );
}

#[test]
fn install_unit_never_writes_through_a_link_at_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), "victim\n").unwrap();
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), "other\n").unwrap();
    std::os::unix::fs::symlink(
        victim.path(),
        dir.path().join(".fleet-node.service.fleet-new"),
    )
    .unwrap();
    std::os::unix::fs::symlink(other.path(), dir.path().join("fleet-node.service")).unwrap();
    let settings = node_runtime::supervise::unit::Settings {
        program: "/usr/bin/fleet-node".into(),
        root: "/var/lib/fleet-node".into(),
        cgroup_parent: "fleet".into(),
        uid_pool: None,
        console_log_max: None,
    };
    // The write `install` makes before it runs systemctl.
    node_runtime::supervise::unit::write(&settings, dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(victim.path()).unwrap(), "victim\n");
    assert_eq!(std::fs::read_to_string(other.path()).unwrap(), "other\n");
    let unit = dir.path().join("fleet-node.service");
    assert!(
        unit.symlink_metadata().unwrap().is_file(),
        "the link is replaced by the unit"
    );
    assert!(
        std::fs::read_to_string(unit)
            .unwrap()
            .contains("ExecStart=/usr/bin/fleet-node")
    );
}
