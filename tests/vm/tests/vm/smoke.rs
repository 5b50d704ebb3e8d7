//! The harness itself, end to end on two linked VMs: boot in parallel, pinned host keys (a wrong
//! one is refused), no way out of this machine, the link between them, copying a file in,
//! `fleet bootstrap` and `fleet apply` of a container per host on cgroup v2, reboot and poweroff.

use fleet_vm::{Cluster, VmOptions, skip_unless_ready};

#[test]
fn two_linked_vms_are_fleet_hosts_and_reboot_and_power_off() {
    if skip_unless_ready() {
        return;
    }
    let mut cluster = Cluster::boot_linked(2, VmOptions::default(), &[(0, 1)]);

    // Real hosts: systemd on the unified hierarchy, each with its own name.
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

    // fleet verifies host keys: a known_hosts with the keys swapped is refused.
    let spec = cluster.write_spec(
        "smoke.yaml",
        "smoke",
        &(0..2)
            .map(|i| {
                format!(
                    "  - name: box-{i}\n    template: busybox\n    \
                     command: [\"/bin/sleep\", \"1000000\"]\n    host: vm-{i}\n    \
                     resources: {{memory: 64Mi}}\n"
                )
            })
            .collect::<String>(),
    );
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

    // bootstrap, then apply one container on each host.
    let spec_arg = spec.to_str().unwrap();
    let installed = cluster.bootstrap(&spec);
    assert_eq!(
        installed.matches(": installed (sha256 ").count(),
        2,
        "{installed}"
    );
    cluster.fleet_ok(&["apply", "-f", spec_arg, "--yes"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&cluster.fleet_ok(&[
        "get",
        "containers",
        "-f",
        spec_arg,
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["state"], "running", "{row}");
        let vm = cluster.vm(row["host"].as_str().unwrap());
        let name = row["name"].as_str().unwrap();
        let pid = row["init_pid"].as_i64().unwrap().to_string();
        let procs = vm
            .ssh
            .ok(&["cat", &format!("/sys/fs/cgroup/fleet/{name}/cgroup.procs")]);
        assert!(
            procs.lines().any(|l| l == pid),
            "{name}: init {pid} not in {procs}"
        );
        let max = vm
            .ssh
            .ok(&["cat", &format!("/sys/fs/cgroup/fleet/{name}/memory.max")]);
        assert_eq!(max.trim(), (64u64 << 20).to_string(), "{name}");
    }
    assert!(
        cluster
            .fleet_ok(&["plan", "-f", spec_arg])
            .contains("No changes."),
        "apply converged"
    );

    // Reboot: same QEMU process, a new boot.
    let vm1 = &mut cluster.vms[1];
    let pid = vm1.pid();
    let before = vm1.boot_id();
    vm1.reboot();
    assert_eq!(vm1.pid(), pid, "the reboot happened inside the same QEMU");
    assert_ne!(vm1.boot_id(), before);
    assert_eq!(
        vm1.ssh.ok(&["hostname"]).trim(),
        "vm-1",
        "identity kept across reboots"
    );

    // Poweroff: QEMU exits cleanly.
    let status = vm1.poweroff();
    assert!(status.success(), "QEMU exited with {status}");
    assert_eq!(vm1.pid(), None);
}
