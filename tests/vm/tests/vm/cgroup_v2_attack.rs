//! Issue 10, finding 3 on cgroup v2 (the host kind most operators run): from inside an
//! unprivileged container on a systemd host, container root tries to raise its own limits
//! (write memory.max and pids.max, make a cgroup, remount /sys/fs/cgroup writable, mount a
//! fresh cgroup2, and the same from nested user, mount and cgroup namespaces where the spec
//! allows nesting). Every attempt fails, and the host's cgroup files still hold the spec's
//! limits. On vm-1 of the pair; the containers use the host template, whose util-linux
//! `unshare` knows `-C`.

use fleet_vm::Cluster;

/// The VM this phase runs on (its only host in the spec).
const HOST: &str = "vm-1";

/// Each line an attack, run by `sh -c` inside; the script prints `ESCAPED` when one succeeds.
const ATTACKS: &[&str] = &[
    "echo 134217728 > /sys/fs/cgroup/memory.max",
    "echo max > /sys/fs/cgroup/pids.max",
    "mkdir /sys/fs/cgroup/escape",
    "mount -o remount,rw /sys/fs/cgroup",
    "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg",
    "unshare -U -m -C -r sh -c 'mount -t cgroup2 none /tmp/cg && echo 134217728 > /tmp/cg/memory.max'",
    "unshare -U -m -C -r sh -c 'mount -t cgroup2 none /tmp/cg && echo max > /tmp/cg/pids.max'",
    "unshare -U -m -C -r sh -c 'mount -t cgroup2 none /tmp/cg && mkdir /tmp/cg/escape'",
];

/// What the container sees, then every attack with its outcome.
fn script() -> String {
    let mut s = String::from(
        "mkdir -p /tmp/cg; \
         echo \"memory.max=$(cat /sys/fs/cgroup/memory.max)\"; \
         echo \"pids.max=$(cat /sys/fs/cgroup/pids.max)\"; \
         echo \"cgroup=$(cat /proc/self/cgroup)\"; \
         if unshare -U -m -C -r sh -c 'mount -t cgroup2 none /tmp/cg' 2>/dev/null; \
         then echo nested-mount=yes; else echo nested-mount=no; fi; ",
    );
    for attack in ATTACKS {
        let quoted = attack.replace('\'', "'\\''");
        s.push_str(&format!(
            "if sh -c '{quoted}' 2>/dev/null; then echo 'ESCAPED: {quoted}'; \
             else echo 'refused: {quoted}'; fi; "
        ));
    }
    s
}

/// The phase: two containers (one allowed nesting) on vm-1, every attack from inside each.
pub fn container_root_cannot_raise_its_own_cgroup_v2_limits(cluster: &Cluster) {
    let vm = cluster.vm(HOST);
    let containers = [
        ("cg-plain", ""),
        ("cg-nested", "    security: {nesting: true}\n"),
    ]
    .iter()
    .map(|(name, extra)| {
        format!(
            "  - name: {name}\n    template: host\n    \
                 command: [\"/bin/sleep\", \"1000000\"]\n    host: {HOST}\n    \
                 resources: {{memory: 64Mi, pids: 100, cpu: {{limit: 20%}}}}\n{extra}"
        )
    })
    .collect::<String>();
    let spec = cluster.write_spec_on("cgroup-v2.yaml", "cgv2", &[HOST], &containers);
    let spec_arg = spec.to_str().unwrap();
    let applied = cluster.fleet_ok(&["apply", "-f", spec_arg, "--yes"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&cluster.fleet_ok(&[
        "get",
        "containers",
        "-f",
        spec_arg,
        "-o",
        "json",
    ]))
    .unwrap();
    let running = rows.iter().filter(|r| r["state"] == "running").count();
    assert_eq!(
        running, 2,
        "apply printed:\n{applied}\nget containers: {rows:?}"
    );
    // Each init is in its own cgroup under the node's parent, and apply converged.
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        let pid = row["init_pid"].as_i64().unwrap().to_string();
        let procs = vm
            .ssh
            .ok(&["cat", &format!("/sys/fs/cgroup/fleet/{name}/cgroup.procs")]);
        assert!(
            procs.lines().any(|l| l == pid),
            "{name}: init {pid} not in {procs}"
        );
    }
    cluster.assert_converged(spec_arg);

    let script = script();
    for name in ["cg-plain", "cg-nested"] {
        let out = cluster.fleet(&["exec", name, "-f", spec_arg, "--", "/bin/sh", "-c", &script]);
        let seen = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {seen}\n{err}");
        // Unprivileged, in its own cgroup namespace: the container's cgroup is the root it
        // sees, with the spec's limits.
        assert!(seen.contains("memory.max=67108864\n"), "{name}: {seen}");
        assert!(seen.contains("pids.max=100\n"), "{name}: {seen}");
        assert!(seen.contains("cgroup=0::/\n"), "{name}: {seen}");
        for attack in ATTACKS {
            assert!(
                !seen.contains(&format!("ESCAPED: {attack}")),
                "{name}: {attack} succeeded:\n{seen}"
            );
        }
        assert_eq!(
            seen.matches("refused: ").count(),
            ATTACKS.len(),
            "{name}: {seen}"
        );
        // With nesting the nested root does mount a writable cgroup2 (so the writes above were
        // refused by ownership, not by the mount); without it seccomp stops the unshare.
        let nested = if name == "cg-nested" { "yes" } else { "no" };
        assert!(
            seen.contains(&format!("nested-mount={nested}\n")),
            "{name}: {seen}"
        );
        // From the host: the limits hold what the spec set, and no cgroup was made.
        let dir = format!("/sys/fs/cgroup/fleet/{name}");
        assert_eq!(
            vm.ssh.ok(&["cat", &format!("{dir}/memory.max")]).trim(),
            (64u64 << 20).to_string(),
            "{name}"
        );
        assert_eq!(
            vm.ssh.ok(&["cat", &format!("{dir}/pids.max")]).trim(),
            "100",
            "{name}"
        );
        let escape = vm.ssh.run(&["test", "-e", &format!("{dir}/escape")]);
        assert!(!escape.status.success(), "{name}: a cgroup was made");
    }
}
