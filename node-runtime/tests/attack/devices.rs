//! Device nodes as a way to the host's disks: container root makes (`mknod`, it keeps
//! CAP_MKNOD) or finds (brought in a layer: an imported image, `disk.from`, a tarball template)
//! a node of a host block device and opens it. On cgroup v1 the device allow-list refuses the
//! open; on cgroup v2 fleet-node has no allow-list (it would need an eBPF program), so what
//! holds there is that no filesystem of the container's tree but its bound allowed nodes lets a
//! device be opened (nodev). Both are tried, privileged (root is host root) and not, against a
//! loop device holding a marker.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Node, missing_prerequisite};
use fleet_protocol::{ContainerSpec, TemplateRef};
use node_runtime::Runtime;

const MARKER: &str = "fleet-host-disk-marker";

/// A loop device over a file that starts with [`MARKER`], detached on drop.
struct Disk {
    dev: PathBuf,
    _file: tempfile::NamedTempFile,
}

impl Disk {
    fn new() -> Disk {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut bytes = MARKER.as_bytes().to_vec();
        bytes.resize(1 << 20, 0);
        std::fs::write(file.path(), bytes).unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {out:?}");
        let dev = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        Disk { dev, _file: file }
    }

    /// `major minor` of the device.
    fn numbers(&self) -> (u64, u64) {
        let meta = std::fs::metadata(&self.dev).unwrap();
        assert!(meta.file_type().is_block_device());
        let rdev = meta.rdev();
        (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

/// The script container root runs: make a node of the disk in /dev (tmpfs) and in / (the
/// overlay), read each and the one planted in the layer, then say it is done.
fn script(major: u64, minor: u64) -> String {
    format!(
        "for p in /dev/hd /hd; do mknod $p b {major} {minor} 2>&1 || echo \"mknod $p refused\"; done; \
         for p in /dev/hd /hd /planted; do echo \"$p: $(head -c {len} $p 2>&1)\"; done; \
         echo done; exec sleep 1000",
        len = MARKER.len()
    )
}

/// Waits for `done` in the log at `log` and returns it.
fn wait_log(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("done\n") {
            return text;
        }
        assert!(Instant::now() < deadline, "no end in the log: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Nothing in the log shows the disk's content.
fn assert_no_marker(log: &str, how: &str) {
    assert!(
        !log.contains(MARKER),
        "{how}: container root read the host's disk:\n{log}"
    );
    assert!(log.contains("/planted: "), "{how}: {log}");
}

/// Plants a node of the disk in a stopped container's upper layer, as a layer brought from
/// elsewhere would hold it.
fn plant(upper: &Path, (major, minor): (u64, u64)) {
    crate::support::block_node(&upper.join("planted"), major, minor);
}

#[test]
fn device_nodes_made_or_planted_inside_do_not_open_a_host_disk_on_cgroup_v1() {
    let Some(node) = Node::new() else { return };
    let disk = Disk::new();
    let numbers = disk.numbers();
    for (name, flags) in [("dev-priv", &["--privileged"][..]), ("dev-user", &[][..])] {
        let mut args = vec!["create", name, "--template", "busybox", "--stopped"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "sh", "-c"]);
        let s = script(numbers.0, numbers.1);
        args.push(&s);
        node.ok(&args);
        plant(&node.container_dir(name).join("upper"), numbers);
        node.ok(&["start", name]);
        let log = wait_log(&node.container_dir(name).join("console.log"));
        assert_no_marker(&log, name);
    }
}

/// A cgroup2 mount: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one (no
/// controllers there, so no device allow-list either: as on a v2 host).
fn unified_mount() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
}

struct Cleanup(Runtime);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in self.0.store.names().unwrap_or_default() {
            let _ = self.0.destroy(&name);
        }
        self.0.cgroups.remove_parent(&self.0.cgroup_parent);
    }
}

#[test]
fn device_nodes_made_or_planted_inside_do_not_open_a_host_disk_without_a_device_allow_list() {
    let why = missing_prerequisite().or_else(|| {
        unified_mount()
            .is_none()
            .then(|| "no cgroup2 mount".to_owned())
    });
    if let Some(why) = why {
        crate::support::cannot_run(&why);
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let parent = format!("fleet-test-dev2-{}", std::process::id());
    let rt = Cleanup(
        Runtime::with_cgroup_mount(root.path(), unified_mount().unwrap(), &parent).unwrap(),
    );
    let disk = Disk::new();
    let numbers = disk.numbers();
    for (name, privileged) in [("dev-priv", true), ("dev-user", false)] {
        let spec = ContainerSpec {
            name: name.into(),
            fleet: "t".into(),
            template: TemplateRef::Busybox,
            command: vec!["sh".into(), "-c".into(), script(numbers.0, numbers.1)],
            env: Default::default(),
            hostname: name.into(),
            onboot: false,
            state: fleet_protocol::DesiredState::Stopped,
            labels: Default::default(),
            resources: Default::default(),
            network: Default::default(),
            privileged,
            security: Default::default(),
            init: Default::default(),
            restart: Default::default(),
            disk: Default::default(),
        };
        rt.0.create(&spec).unwrap();
        let dir = root.path().join("containers").join(name);
        plant(&dir.join("upper"), numbers);
        rt.0.start(name).unwrap();
        let log = wait_log(&dir.join("console.log"));
        assert_no_marker(&log, name);
    }
}
