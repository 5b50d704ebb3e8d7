//! The harness itself on the linked pair: real hosts (systemd on the unified hierarchy, each
//! with its own name), no way out of this machine, the link between them, copying a file in,
//! pinned host keys (a wrong one is refused), `fleet bootstrap` of both hosts at once, a reboot
//! and at the end a poweroff.

use fleet_vm::vm::Reboot;
use fleet_vm::{Cluster, Vm};

/// Each VM is a real systemd host on cgroup v2 with its own name; nothing outside this machine
/// is reachable from it; vm-0 reaches vm-1 over their link; a file copied in arrives whole.
pub fn hosts_are_real_and_closed(cluster: &Cluster) {
    for vm in &cluster.vms {
        let fs = vm.ssh.ok(&["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]);
        assert_eq!(fs.trim(), "cgroup2fs", "{}", vm.name);
        assert_eq!(vm.ssh.ok(&["hostname"]).trim(), vm.name);
        assert_eq!(vm.ssh.ok(&["cat", "/proc/1/comm"]).trim(), "systemd");
    }

    // Nothing outside this machine is reachable: no default route, and a connection to an
    // outside address fails at once.
    let vm0 = &cluster.vms[0];
    let routes = vm0.ssh.ok(&["ip", "route", "show", "default"]);
    assert_eq!(routes.trim(), "", "a default route: {routes}");
    let out = vm0
        .ssh
        .run(&["busybox", "nc", "-w", "3", "192.0.2.1", "80"]);
    assert!(!out.status.success(), "reached 192.0.2.1:80 from the VM");

    // The link: vm-0 (10.250.0.1) reaches vm-1 (10.250.0.2).
    let ping = vm0
        .ssh
        .ok(&["busybox", "ping", "-c", "1", "-W", "10", "10.250.0.2"]);
    assert!(ping.contains("1 packets received"), "{ping}");

    // Copying a file in.
    let local = cluster.dir().join("hello.txt");
    std::fs::write(&local, "hello from the harness\n").unwrap();
    vm0.ssh.copy_in(&local, "/root/in/hello.txt", 0o600);
    assert_eq!(
        vm0.ssh.ok(&["cat", "/root/in/hello.txt"]),
        "hello from the harness\n"
    );
    assert_eq!(
        vm0.ssh
            .ok(&["stat", "-c", "%a", "/root/in/hello.txt"])
            .trim(),
        "600"
    );
}

/// fleet verifies host keys: with a known_hosts whose keys are swapped between the two VMs,
/// `fleet plan` is refused ("has changed") and exits 1.
pub fn host_keys_are_pinned(cluster: &Cluster) {
    let spec = cluster.write_spec("pinned.yaml", "pinned", "");
    let swapped = cluster.dir().join("swapped_known_hosts");
    std::fs::write(
        &swapped,
        format!(
            "[127.0.0.1]:{} {}\n[127.0.0.1]:{} {}\n",
            cluster.vms[0].port,
            cluster.vms[1].host_key,
            cluster.vms[1].port,
            cluster.vms[0].host_key
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(&spec).unwrap();
    let wrong = cluster.dir().join("wrong.yaml");
    std::fs::write(
        &wrong,
        text.replace(
            &cluster.known_hosts.display().to_string(),
            &swapped.display().to_string(),
        ),
    )
    .unwrap();
    let out = cluster.fleet(&["plan", "-f", wrong.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has changed"), "{stderr}");
}

/// One `fleet bootstrap` of every host in `hosts` (all VMs when empty): each gets fleet-node
/// (its sha256 said) and fleet-node.service, enabled and running.
pub fn bootstrap(cluster: &Cluster, hosts: &[&str]) {
    let spec = cluster.write_spec_on("bootstrap.yaml", "bootstrap", hosts, "");
    let installed = cluster.bootstrap(&spec);
    let n = if hosts.is_empty() {
        cluster.vms.len()
    } else {
        hosts.len()
    };
    assert_eq!(
        installed.matches(": installed (sha256 ").count(),
        n,
        "{installed}"
    );
    assert_eq!(
        installed
            .matches("fleet-node.service: enabled and started")
            .count(),
        n,
        "{installed}"
    );
    for vm in cluster
        .vms
        .iter()
        .filter(|vm| hosts.is_empty() || hosts.contains(&vm.name.as_str()))
    {
        assert_eq!(
            vm.ssh.ok(&["systemctl", "is-enabled", "fleet-node"]).trim(),
            "enabled",
            "{}",
            vm.name
        );
        assert_eq!(
            vm.ssh.ok(&["systemctl", "is-active", "fleet-node"]).trim(),
            "active",
            "{}",
            vm.name
        );
    }
}

/// Reboot: the same QEMU process, a new boot id, the same identity. Returns how long it took.
pub fn reboot(vm: &mut Vm) -> Reboot {
    let pid = vm.pid();
    let before = vm.boot_id();
    let took = vm.reboot();
    assert_eq!(vm.pid(), pid, "the reboot happened inside the same QEMU");
    assert_ne!(vm.boot_id(), before);
    assert_eq!(
        vm.ssh.ok(&["hostname"]).trim(),
        vm.name,
        "identity kept across reboots"
    );
    took
}

/// Poweroff: QEMU exits cleanly (the unit's ExecStop stops the containers still running).
pub fn power_off(vm: &mut Vm) {
    let status = vm.poweroff();
    assert!(status.success(), "QEMU exited with {status}");
    assert_eq!(vm.pid(), None);
}
