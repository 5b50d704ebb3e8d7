//! `security.devices` on this host (cgroup v1): a granted host device node is bound into the
//! container's /dev and opens there with the access granted, and nothing more: the devices
//! controller refuses a write the grant does not allow, a node the container makes itself for a
//! device nobody granted does not open, and container root cannot widen its own rules. Grants
//! change live (`fleet-node set --device`), with the same init. Real containers, as root; never
//! skipped in CI.
//!
//! The last test is the cgroup v2 guard (`BPF_PROG_TYPE_CGROUP_DEVICE`) on this host's real
//! unified hierarchy (/sys/fs/cgroup/unified: it offers no controllers, but the kernel runs a
//! group's device programs for every task in it, as on a v2 host): a shell moved into a group
//! with the program opens the default devices and the granted one and gets EPERM for the rest;
//! the program is replaced live (one attached after each change). The VM tier runs the same
//! through containers on real v2 hosts.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_protocol::devices::DeviceGrant;
use node_runtime::cgroups::devices::{HostDevice, install_program};
use support::{Node, busybox};

fn sh(node: &Node, name: &str, script: &str) -> String {
    node.exec(name, &["/bin/sh", "-c", script])
}

/// `opened` or `refused: <the shell's error>` for a redirection `what` inside `name`.
/// The v1 `devices.list` of `name`'s devices group: the rules the kernel holds for it.
fn devices_list(node: &Node, name: &str) -> String {
    node.cgroup_dirs(name)
        .into_iter()
        .find(|d| d.join("devices.list").exists())
        .map(|d| std::fs::read_to_string(d.join("devices.list")).unwrap())
        .expect("a devices group")
}

fn open(node: &Node, name: &str, what: &str) -> String {
    sh(
        node,
        name,
        &format!("if err=$( ({what}) 2>&1); then echo opened; else echo \"refused: $err\"; fi"),
    )
}

fn needs(devices: &[&str]) -> bool {
    for dev in devices {
        if !std::path::Path::new(dev).exists() {
            support::cannot_run(&format!("needs {dev} on the host"));
            return false;
        }
    }
    true
}

#[test]
fn a_granted_device_opens_inside_and_an_ungranted_one_does_not() {
    let Some(node) = Node::new() else { return };
    if !needs(&["/dev/fuse", "/dev/net/tun"]) {
        return;
    }
    // Privileged, so that container root may mknod (CAP_MKNOD, no user namespace): the
    // cgroup, not the missing node, must be what refuses the device nobody granted.
    node.ok(&busybox(
        "dev",
        &[
            "--privileged",
            "--device",
            "/dev/fuse",
            "--device",
            "/dev/net/tun:r",
        ],
        &[],
    ));
    assert_eq!(open(&node, "dev", "exec 3<>/dev/fuse"), "opened\n", "rwm");
    assert_eq!(open(&node, "dev", "exec 3</dev/net/tun"), "opened\n", "r");
    let write = open(&node, "dev", "exec 3<>/dev/net/tun");
    assert!(
        write.contains("refused") && write.contains("Operation not permitted"),
        "r only: the devices cgroup refuses a write: {write}"
    );
    // The default set still works beside the grants.
    assert_eq!(
        sh(
            &node,
            "dev",
            "head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; echo x > /dev/null && echo null"
        ),
        "4\n4\nnull\n"
    );
    // /dev/loop-control (10:237) was not granted: the container's own node for it is inert.
    assert_eq!(
        sh(&node, "dev", "mknod /dev/lc c 10 237 && echo made"),
        "made\n"
    );
    // /dev's tmpfs is nodev (rootfs::ROOT_FLAGS), so the open is refused before the devices
    // cgroup is asked (EACCES); the cgroup's rule stays behind it (EPERM).
    let lc = open(&node, "dev", "exec 3</dev/lc");
    assert!(
        lc.contains("Permission denied") || lc.contains("Operation not permitted"),
        "{lc}"
    );

    // Container root cannot widen its own list: the group's files are read-only inside, a
    // remount is refused, and the ungranted device stays closed after the attempts.
    let widen = sh(
        &node,
        "dev",
        "echo a > /sys/fs/cgroup/devices/devices.allow 2>&1 || echo write-refused; \
         mount -o remount,rw /sys/fs/cgroup/devices 2>&1 || echo remount-refused; \
         echo 'c 10:237 rwm' > /sys/fs/cgroup/devices/devices.allow 2>&1 || echo rule-refused",
    );
    assert!(
        widen.contains("write-refused")
            && widen.contains("remount-refused")
            && widen.contains("rule-refused"),
        "{widen}"
    );
    let host_rules = devices_list(&node, "dev");
    assert!(
        !host_rules.contains("10:237") && !host_rules.contains("a *:* rwm"),
        "{host_rules}"
    );
    let lc = open(&node, "dev", "exec 3</dev/lc");
    assert!(
        lc.contains("Permission denied") || lc.contains("Operation not permitted"),
        "still refused: {lc}"
    );
}

#[test]
fn grants_change_live_with_the_same_init() {
    let Some(node) = Node::new() else { return };
    if !needs(&["/dev/fuse", "/dev/net/tun"]) {
        return;
    }
    node.ok(&busybox("live", &["--device", "/dev/fuse:rw"], &[]));
    let pid = node.init_pid("live");
    assert_eq!(open(&node, "live", "exec 3<>/dev/fuse"), "opened\n");
    assert_eq!(
        sh(&node, "live", "test -e /dev/net/tun || echo none"),
        "none\n"
    );

    // Granted while it runs: the node appears (in /dev/net, made in the container's /dev) and
    // opens; taken back: the node is gone and nothing the container does opens the device.
    let out = node.ok(&[
        "set",
        "live",
        "--device",
        "/dev/net/tun:rw",
        "--device",
        "/dev/fuse:none",
    ]);
    assert_eq!(out, "live: updated\n");
    assert_eq!(node.init_pid("live"), pid, "no restart");
    assert_eq!(open(&node, "live", "exec 3<>/dev/net/tun"), "opened\n");
    assert_eq!(
        sh(&node, "live", "test -e /dev/fuse || echo gone"),
        "gone\n"
    );
    let rules = devices_list(&node, "live");
    assert!(
        rules.contains("c 10:200 rw") && !rules.contains("10:229"),
        "{rules}"
    );
    let status = node.status("live");
    assert_eq!(
        status["spec"]["security"]["devices"],
        serde_json::json!([{"path": "/dev/net/tun", "access": "rw"}]),
        "{status}"
    );

    // The node never follows what the container made in its /dev. Moved away and replaced by
    // a symlink to /sys, the granted node is not unmounted through the link when the grant
    // goes: the rule is taken back, and the moved node no longer opens.
    sh(
        &node,
        "live",
        "mv /dev/net /dev/moved && ln -s /sys /dev/net",
    );
    node.ok(&["set", "live", "--device", "/dev/net/tun:none"]);
    let moved = open(&node, "live", "exec 3<>/dev/moved/tun");
    assert!(moved.contains("Operation not permitted"), "{moved}");
    // Granting through the link is refused, naming it; no rule is left behind, and nothing
    // appeared under /sys.
    let err = node.fails(&["set", "live", "--device", "/dev/net/tun:rw"]);
    assert!(err.contains("symbolic link"), "{err}");
    let rules = devices_list(&node, "live");
    assert!(!rules.contains("10:200"), "{rules}");
    assert_eq!(
        sh(&node, "live", "test -e /sys/tun || echo clean"),
        "clean\n"
    );
    assert!(!std::path::Path::new("/sys/tun").exists());
    assert_eq!(node.init_pid("live"), pid, "still the same init");
}

#[test]
fn bad_grants_are_refused_with_the_reason_and_nothing_is_made() {
    let Some(node) = Node::new() else { return };
    for (device, why) in [
        ("/etc/passwd", "not under /dev/"),
        ("/dev/fuse:rwx", "access \"rwx\""),
        ("/dev/../etc/shadow", "not a plain path"),
    ] {
        let err = node.fails(&["create", "bad", "--template", "busybox", "--device", device]);
        assert!(
            err.contains("security.devices") && err.contains(why),
            "{device}: {err}"
        );
        assert!(
            !node.container_dir("bad").exists(),
            "{device}: nothing made"
        );
    }
    // A path that is not a device node on the host is refused when the container starts.
    let err = node.fails(&busybox("nodev", &["--device", "/dev/no-such-device"], &[]));
    assert!(
        err.contains("security.devices") && err.contains("/dev/no-such-device"),
        "{err}"
    );
}

const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// A group of the unified hierarchy, removed (with its tasks gone) on drop.
struct Group(PathBuf);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// What a shell in `group` gets opening each device: `name=ok` or `name=refused`.
fn opens(group: &Path) -> String {
    let script = format!(
        "echo $$ > {}/cgroup.procs || exit 9; \
         for d in null:'<>/dev/null' zero:'</dev/zero' urandom:'</dev/urandom' \
                  fuse:'<>/dev/fuse' tun:'<>/dev/net/tun'; do \
           n=${{d%%:*}}; r=${{d#*:}}; \
           if err=$( (eval \"exec 3$r\") 2>&1); then echo $n=ok; \
           else case $err in *'not permitted'*) echo $n=refused;; *) echo \"$n: $err\";; esac; fi; \
         done",
        group.display()
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn grant(path: &str, access: &str) -> HostDevice {
    HostDevice::find(
        "t",
        &DeviceGrant {
            path: path.into(),
            access: access.into(),
        },
    )
    .unwrap()
}

#[test]
fn the_device_program_allows_the_default_set_and_the_grants_only_and_changes_live() {
    if let Some(why) = support::missing_prerequisite() {
        support::cannot_run(&why);
        return;
    }
    if !Path::new(UNIFIED).join("cgroup.procs").exists() {
        support::cannot_run("no cgroup2 mount at /sys/fs/cgroup/unified");
        return;
    }
    let group =
        Group(Path::new(UNIFIED).join(format!("fleet-test-devprog-{}", std::process::id())));
    std::fs::create_dir(&group.0).unwrap();

    // Nothing attached: every device opens.
    assert!(opens(&group.0).contains("tun=ok"));

    install_program(&group.0, &[grant("/dev/fuse", "rw")]).unwrap();
    assert_eq!(
        opens(&group.0),
        "null=ok\nzero=ok\nurandom=ok\nfuse=ok\ntun=refused\n"
    );
    let attached = node_runtime::sys::bpf::attached_device_programs(std::os::fd::AsFd::as_fd(
        &std::fs::File::open(&group.0).unwrap(),
    ))
    .unwrap();
    assert_eq!(attached.len(), 1, "{attached:?}");

    // Live: tun granted read-only, fuse taken back; still one program.
    install_program(&group.0, &[grant("/dev/net/tun", "r")]).unwrap();
    assert_eq!(
        opens(&group.0),
        "null=ok\nzero=ok\nurandom=ok\nfuse=refused\ntun=refused\n",
        "tun is opened for writing too, which r does not allow"
    );
    let read_tun = Command::new("/bin/sh")
        .args([
            "-c",
            &format!(
                "echo $$ > {}/cgroup.procs && exec 3</dev/net/tun && echo read-ok",
                group.0.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&read_tun.stdout), "read-ok\n");
    let attached = node_runtime::sys::bpf::attached_device_programs(std::os::fd::AsFd::as_fd(
        &std::fs::File::open(&group.0).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        attached.len(),
        1,
        "the old program was detached: {attached:?}"
    );
}
