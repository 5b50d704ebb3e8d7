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

use crate::support::Node;
use crate::support::unified::Unified;
use fleet_protocol::{ContainerSpec, TemplateRef};

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

#[test]
fn device_nodes_made_or_planted_inside_do_not_open_a_host_disk_without_a_device_allow_list() {
    let Some(unified) = Unified::new("dev2") else {
        return;
    };
    let (rt, root) = (&unified.rt, &unified.root);
    let disk = Disk::new();
    let numbers = disk.numbers();
    for (name, privileged) in [("dev-priv", true), ("dev-user", false)] {
        let spec = ContainerSpec {
            state: fleet_protocol::DesiredState::Stopped,
            privileged,
            ..ContainerSpec::new(
                "t",
                name,
                TemplateRef::Busybox,
                vec!["sh".into(), "-c".into(), script(numbers.0, numbers.1)],
            )
        };
        rt.create(&spec).unwrap();
        let dir = root.path().join("containers").join(name);
        plant(&dir.join("upper"), numbers);
        rt.start(name).unwrap();
        let log = wait_log(&dir.join("console.log"));
        assert_no_marker(&log, name);
    }
}
