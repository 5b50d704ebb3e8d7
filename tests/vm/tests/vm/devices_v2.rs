//! Granted devices (`security.devices`, issue 15) on a real cgroup v2 host, where the guard is
//! fleet-node's eBPF device program: on vm-0, a privileged container (its root may mknod) opens
//! the default set and its granted /dev/fuse, opens /dev/net/tun granted read-only for reading
//! and gets EPERM from the program for writing, and cannot open nodes it made itself; then
//! `fleet apply` changes the grants live (the plan says live, the init PID stays): tun opens for
//! writing, fuse is gone and its self-made node stays closed.

use fleet_vm::Cluster;

/// The VM this phase runs on.
const HOST: &str = "vm-0";

/// What the container gets opening each device: `name=ok`, `name=EPERM`, `name=missing` (no
/// such node: tested first, as `<>` would create a file), or `name=other` (another error).
const PROBE: &str = "for d in null:'<>/dev/null' zero:'</dev/zero' urandom:'</dev/urandom' \
     full:'>/dev/full' ptmx:'<>/dev/ptmx' tty:'<>/dev/tty' fuse:'<>/dev/fuse' \
     tun:'<>/dev/net/tun' tunr:'</dev/net/tun' mytun:'<>/dev/mytun' myfuse:'<>/dev/myfuse'; do \
     n=${d%%:*}; r=${d#*:}; p=${r#*/}; \
     if [ ! -c \"/$p\" ]; then echo $n=missing; \
     elif err=$( (eval \"exec 3$r\") 2>&1); then echo $n=ok; else case $err in \
       *'not permitted'*) echo $n=EPERM;; *'ermission denied'*) echo $n=EACCES;; \
       *) echo \"$n=other\";; esac; fi; done";

fn spec(cluster: &Cluster, devices: &str) -> String {
    let containers = format!(
        "  - name: devs\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: {HOST}\n    privileged: true\n    security: {{devices: {devices}}}\n"
    );
    cluster
        .write_spec_on("devices.yaml", "devices", &[HOST], &containers)
        .display()
        .to_string()
}

fn probe(cluster: &Cluster, spec: &str) -> String {
    cluster.fleet_ok(&["exec", "devs", "-f", spec, "--", "/bin/sh", "-c", PROBE])
}

fn init_pid(cluster: &Cluster, spec: &str) -> i64 {
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&cluster.fleet_ok(&["get", "containers", "-f", spec, "-o", "json"]))
            .unwrap();
    rows[0]["init_pid"].as_i64().unwrap()
}

/// Asserts that each of `want` is a line of what the probe saw.
#[track_caller]
fn assert_seen(seen: &str, want: &[&str]) {
    for want in want {
        assert!(seen.lines().any(|l| l == *want), "{want}: {seen}");
    }
}

/// The phase.
pub fn granted_devices_open_and_others_are_refused_by_the_device_program(cluster: &Cluster) {
    let vm = cluster.vm(HOST);
    // The device nodes exist from boot (systemd's static nodes); opening loads the module.
    vm.ssh.ok(&["modprobe", "-a", "fuse", "tun"]);
    let first = spec(
        cluster,
        "[{path: /dev/fuse, access: rw}, {path: /dev/net/tun, access: r}]",
    );
    cluster.fleet_ok(&["apply", "-f", &first, "--yes"]);
    let pid = init_pid(cluster, &first);
    // Container root makes its own nodes for tun and fuse: mknod is allowed, opening is not
    // (the device program, or the nodev /dev under it, refuses).
    cluster.fleet_ok(&[
        "exec",
        "devs",
        "-f",
        &first,
        "--",
        "/bin/sh",
        "-c",
        "mknod /dev/mytun c 10 200 && mknod /dev/myfuse c 10 229",
    ]);
    let refused = |seen: &str, name: &str| {
        seen.lines()
            .any(|l| l == format!("{name}=EPERM") || l == format!("{name}=EACCES"))
    };
    let seen = probe(cluster, &first);
    assert_seen(
        &seen,
        &[
            "null=ok",
            "zero=ok",
            "urandom=ok",
            "full=ok",
            "ptmx=ok",
            "fuse=ok",
            "tunr=ok",
            // Granted read-only: the program refuses the write.
            "tun=EPERM",
        ],
    );
    assert!(refused(&seen, "mytun"), "{seen}");
    // /dev/tty opens to ENXIO without a controlling terminal: the program let it through.
    assert!(seen.lines().any(|l| l == "tty=other"), "{seen}");

    // Live: fuse taken back, tun granted for writing too.
    let second = spec(cluster, "[{path: /dev/net/tun, access: rw}]");
    let plan = cluster.fleet_ok(&["plan", "-f", &second]);
    assert!(
        plan.contains("security.devices") && !plan.contains("restart for"),
        "a live change: {plan}"
    );
    cluster.fleet_ok(&["apply", "-f", &second, "--yes"]);
    assert_eq!(init_pid(cluster, &second), pid, "the same init");
    let seen = probe(cluster, &second);
    assert_seen(
        &seen,
        &[
            "null=ok",
            "urandom=ok",
            "ptmx=ok",
            "tun=ok",
            "tunr=ok",
            "fuse=missing",
        ],
    );
    assert!(refused(&seen, "myfuse"), "{seen}");
    cluster.assert_converged(&second);
    cluster.fleet_ok(&["destroy", "-f", &second, "--yes"]);
}
