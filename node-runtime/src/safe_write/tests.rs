//! The attacks a container root can stage in its tree before fleet-node writes into it, each
//! asserting that nothing outside the tree changed.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use super::*;

/// A tree and, beside it, a "host" directory with a secret the tree must never reach.
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    host: PathBuf,
    secret: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("upper");
    let host = dir.path().join("host");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(&host).unwrap();
    let secret = host.join("shadow");
    fs::write(&secret, "root:$6$hash:19000::::::\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    Setup {
        _dir: dir,
        root,
        host,
        secret,
    }
}

fn untouched(s: &Setup) {
    assert_eq!(
        fs::read_to_string(&s.secret).unwrap(),
        "root:$6$hash:19000::::::\n",
        "the host file was written through"
    );
    assert_eq!(fs::metadata(&s.secret).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn writes_a_file_and_its_parents() {
    let s = setup();
    let tree = Tree::open(&s.root).unwrap();
    tree.write("etc/hostname", b"web\n", 0o644, None).unwrap();
    tree.write("var/lib/dbus/machine-id", b"x\n", 0o444, None)
        .unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("etc/hostname")).unwrap(),
        "web\n"
    );
    let meta = fs::metadata(s.root.join("var/lib/dbus/machine-id")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o444);
    assert_eq!(
        fs::metadata(s.root.join("var/lib")).unwrap().mode() & 0o777,
        0o755
    );
    // Rewriting replaces the content and leaves no temporary file.
    tree.write("etc/hostname", b"db\n", 0o644, None).unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("etc/hostname")).unwrap(),
        "db\n"
    );
    let names: Vec<_> = fs::read_dir(s.root.join("etc")).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn a_final_symlink_to_a_host_file_is_replaced_not_followed() {
    let s = setup();
    symlink(&s.secret, s.root.join("etc/hostname")).unwrap();
    let tree = Tree::open(&s.root).unwrap();
    tree.write("etc/hostname", b"web\n", 0o644, None).unwrap();
    untouched(&s);
    let meta = fs::symlink_metadata(s.root.join("etc/hostname")).unwrap();
    assert!(meta.is_file(), "the symlink itself was replaced");
    // A dangling symlink: the missing host target is not created.
    let missing = s.host.join("created-by-attack");
    fs::remove_file(s.root.join("etc/hostname")).unwrap();
    symlink(&missing, s.root.join("etc/hostname")).unwrap();
    tree.write("etc/hostname", b"web\n", 0o644, None).unwrap();
    assert!(!missing.exists());
}

#[test]
fn a_hard_link_to_a_host_file_is_not_written_through() {
    let s = setup();
    fs::hard_link(&s.secret, s.root.join("etc/hostname")).unwrap();
    let tree = Tree::open(&s.root).unwrap();
    tree.write("etc/hostname", b"web\n", 0o644, None).unwrap();
    untouched(&s);
    assert_eq!(fs::metadata(&s.secret).unwrap().nlink(), 1);
}

#[test]
fn directory_symlinks_and_dotdot_stay_inside_the_tree() {
    // etc -> each path that, followed on the host, reaches the host directory or the host root.
    let targets = |s: &Setup| {
        vec![
            s.host.clone(),
            PathBuf::from("../host"),
            PathBuf::from("/"),
            PathBuf::from("../../../../.."),
            Path::new("/../../..").join(s.host.strip_prefix("/").unwrap()),
        ]
    };
    for i in 0..5 {
        let s = setup();
        let to = targets(&s)[i].clone();
        fs::remove_dir(s.root.join("etc")).unwrap();
        symlink(&to, s.root.join("etc")).unwrap();
        fs::write(s.host.join("hostname"), "host's\n").unwrap();
        let tree = Tree::open(&s.root).unwrap();
        // Either written inside the tree (the link resolved with the tree as root) or refused
        // (a link dangling inside the tree); never outside.
        let _ = tree.write("etc/hostname", b"web\n", 0o644, None);
        untouched(&s);
        assert_eq!(
            fs::read_to_string(s.host.join("hostname")).unwrap(),
            "host's\n",
            "etc -> {to:?} led outside"
        );
        assert!(!Path::new("/hostname").exists());
    }
}

#[test]
fn an_absolute_symlink_means_the_trees_own_root() {
    let s = setup();
    fs::create_dir_all(s.root.join("run/etc")).unwrap();
    fs::remove_dir(s.root.join("etc")).unwrap();
    symlink("/run/etc", s.root.join("etc")).unwrap();
    Tree::open(&s.root)
        .unwrap()
        .write("etc/hostname", b"web\n", 0o644, None)
        .unwrap();
    assert_eq!(
        fs::read_to_string(s.root.join("run/etc/hostname")).unwrap(),
        "web\n"
    );
}

#[test]
fn fifos_devices_and_directories_in_the_way() {
    let s = setup();
    let tree = Tree::open(&s.root).unwrap();
    // A fifo where the file goes: replaced without being opened (opening would block).
    nix::unistd::mkfifo(
        &s.root.join("etc/hostname"),
        Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    tree.write("etc/hostname", b"web\n", 0o644, None).unwrap();
    assert!(
        fs::symlink_metadata(s.root.join("etc/hostname"))
            .unwrap()
            .is_file()
    );
    // A directory where the file goes: refused, and the directory is kept.
    fs::create_dir_all(s.root.join("etc/machine-id/inner")).unwrap();
    let err = tree.write("etc/machine-id", b"x", 0o444, None).unwrap_err();
    assert!(err.to_string().contains("/etc/machine-id"), "{err}");
    assert!(s.root.join("etc/machine-id/inner").is_dir());
    // A file where a directory goes.
    fs::write(s.root.join("var"), "").unwrap();
    let err = tree.write("var/lib/x", b"x", 0o644, None).unwrap_err();
    assert_eq!(err.source.raw_os_error(), Some(libc::ENOTDIR), "{err}");
}

#[test]
fn reads_only_small_regular_files() {
    let s = setup();
    let tree = Tree::open(&s.root).unwrap();
    assert_eq!(tree.read("etc/missing", 64).unwrap(), None);
    fs::write(s.root.join("etc/small"), "abc").unwrap();
    assert_eq!(tree.read("etc/small", 64).unwrap().unwrap(), b"abc");
    // A huge (sparse) file is refused from its size, not read.
    let big = fs::File::create(s.root.join("etc/big")).unwrap();
    big.set_len(1 << 40).unwrap();
    assert!(tree.read("etc/big", 64).is_err());
    // A fifo is refused without blocking.
    nix::unistd::mkfifo(&s.root.join("etc/fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    assert!(tree.read("etc/fifo", 64).is_err());
    // A symlink to a host file is refused, even though its target is small and readable.
    symlink(&s.secret, s.root.join("etc/link")).unwrap();
    assert!(tree.read("etc/link", 64).is_err());
    // A device node (/dev/null's twin) is refused without being opened.
    if nix::unistd::geteuid().is_root() {
        nix::sys::stat::mknod(
            &s.root.join("etc/null"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        assert!(tree.read("etc/null", 64).is_err());
    }
    let found = tree.entry("etc/link").unwrap().unwrap();
    assert_eq!(found.kind, SFlag::S_IFLNK);
    assert_eq!(tree.entry("nothing/here").unwrap(), None);
}

#[test]
fn only_plain_relative_paths_are_taken() {
    let s = setup();
    let tree = Tree::open(&s.root).unwrap();
    for bad in ["", "/etc/hostname", "../host/shadow", "etc/../x", "./etc"] {
        assert!(tree.write(bad, b"x", 0o644, None).is_err(), "{bad:?}");
    }
    untouched(&s);
}

#[test]
fn the_root_itself_must_not_be_a_symlink() {
    let s = setup();
    let link = s.host.join("root-link");
    symlink(&s.root, &link).unwrap();
    assert!(Tree::open(&link).is_err());
}

#[test]
fn files_and_made_directories_get_the_owner() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "this test needs root in CI"
        );
        return;
    }
    let s = setup();
    let owner = Owner {
        uid: 100_000,
        gid: 100_000,
    };
    Tree::open(&s.root)
        .unwrap()
        .write("var/lib/file", b"x", 0o640, Some(owner))
        .unwrap();
    for p in ["var", "var/lib", "var/lib/file"] {
        let meta = fs::metadata(s.root.join(p)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (100_000, 100_000), "{p}");
    }
    assert_eq!(
        fs::metadata(s.root.join("var/lib/file")).unwrap().mode() & 0o777,
        0o640
    );
}
