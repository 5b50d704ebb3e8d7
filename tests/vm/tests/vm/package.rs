//! The Debian package on a clean Debian 12 host (issue 17): `scripts/build-deb` packages the
//! fleet-node under test on this side, the .deb is copied to vm-1 and installed there with
//! `apt install ./fleet-node_*.deb`, as an operator would; the package enables and starts
//! fleet-node.service. From then on vm-1's specs name the package's `/usr/bin/fleet-node`, and
//! every later phase on vm-1 (the cgroup v2 attack, crashes by policy, the reboot) is `fleet
//! apply` driving the packaged node and its unit.

use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_vm::Cluster;

/// Where the package puts fleet-node.
pub const PACKAGED_NODE: &str = "/usr/bin/fleet-node";

/// `scripts/build-deb --binary <the fleet-node under test> --out <out>`; returns the .deb. Runs
/// on this side only (it can go on while the VMs boot).
pub fn build(out: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-deb");
    let stdout = fleet_vm::command::stdout_of(
        "build-deb",
        Command::new(&script)
            .arg("--binary")
            .arg(fleet_vm::bins::fleet_node())
            .arg("--out")
            .arg(out),
    );
    PathBuf::from(stdout.trim())
}

/// The phase: copy `deb` to `host`, `apt install` it there, check what the package did (the
/// unit enabled and running the packaged binary, nothing of bootstrap's). Returns the packaged
/// node's version line.
pub fn install(cluster: &Cluster, host: &str, deb: &Path) -> String {
    let file = deb.file_name().unwrap().to_str().unwrap().to_owned();
    let vm = cluster.vm(host);
    vm.ssh.copy_in(deb, &format!("/root/deb/{file}"), 0o644);
    // Nothing to fetch (no network, and every dependency is on a Debian 12 host already): apt
    // installs the file with its Depends checked. The glob is the operator's command; the
    // directory holds only this package.
    let out = vm.ssh.sh(
        "cd /root/deb && DEBIAN_FRONTEND=noninteractive apt install -y ./fleet-node_*.deb 2>&1",
    );
    eprintln!("fleet-vm: apt install on {host}:\n{out}");
    let status = vm.ssh.ok(&[
        "dpkg-query",
        "-W",
        "-f",
        "${Status} ${Version}",
        "fleet-node",
    ]);
    assert!(status.starts_with("install ok installed "), "{status}");
    let version = vm.ssh.ok(&[PACKAGED_NODE, "--version"]);
    assert!(version.starts_with("fleet-node "), "{version}");
    assert_eq!(
        vm.ssh.ok(&["systemctl", "is-enabled", "fleet-node"]).trim(),
        "enabled"
    );
    assert_eq!(
        vm.ssh.ok(&["systemctl", "is-active", "fleet-node"]).trim(),
        "active"
    );
    let unit = vm.ssh.ok(&[
        "systemctl",
        "show",
        "-p",
        "FragmentPath",
        "-p",
        "ExecStart",
        "fleet-node",
    ]);
    // Debian 12 has merged /usr: systemd names the unit by its /lib path.
    assert!(
        unit.lines().any(|l| {
            l == "FragmentPath=/usr/lib/systemd/system/fleet-node.service"
                || l == "FragmentPath=/lib/systemd/system/fleet-node.service"
        }) && unit.contains("path=/usr/bin/fleet-node ;"),
        "the package's unit runs the package's binary: {unit}"
    );
    // Nothing of bootstrap's on this host.
    let bootstrap = vm.ssh.run(&["test", "-e", "/usr/local/bin/fleet-node"]);
    assert!(
        !bootstrap.status.success(),
        "{host} has a bootstrapped node"
    );
    version
}

/// After [`install`]: `host`'s specs name the packaged node from now on, and fleet sees it
/// there (`fleet get hosts` shows its version).
pub fn fleet_sees_the_packaged_node(cluster: &mut Cluster, host: &str, version: &str) {
    cluster
        .vms
        .iter_mut()
        .find(|vm| vm.name == host)
        .unwrap()
        .node_path = PACKAGED_NODE.to_owned();
    let spec = cluster.write_spec_on("package.yaml", "package", &[host], "");
    let hosts: serde_json::Value = serde_json::from_str(&cluster.fleet_ok(&[
        "get",
        "hosts",
        "-f",
        spec.to_str().unwrap(),
        "-o",
        "json",
    ]))
    .unwrap();
    let text = hosts.to_string();
    assert!(
        text.contains(version.trim().trim_start_matches("fleet-node ")),
        "fleet get hosts shows the packaged node's version {version}: {hosts}"
    );
}
