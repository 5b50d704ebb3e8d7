//! Every limit on a real cgroup v2 host (issue 11), on vm-0 of the pair (2 vCPUs, for cpusets),
//! every check in order on the same two containers: set by `fleet apply`, changed live with the same init PID, and read back
//! from the cgroup files inside the VM; the I/O weight into the file the disk's scheduler reads
//! (no scheduler reads one at first: the plan warns naming the host; then BFQ); failcnt from
//! memory.events and pids.events under real hogs; PSI in `fleet-node counters`; the disk grown
//! live, the bigger file system visible inside with `df`; last, iocost instead of BFQ: the hello
//! names `io.weight` and a weight changed live lands there.

use fleet_vm::{Cluster, Vm};

/// The container's cgroup file `file`, trimmed.
fn cg(vm: &Vm, name: &str, file: &str) -> String {
    vm.ssh
        .ok(&["cat", &format!("/sys/fs/cgroup/fleet/{name}/{file}")])
        .trim()
        .to_owned()
}

/// `lim`'s cgroup files and their values as first.yaml sets them and as second.yaml changes
/// them live.
fn lim_files() -> [(&'static str, [String; 2]); 7] {
    let mib = |n: u64| (n << 20).to_string();
    let both = |first: &str, second: &str| [first.to_owned(), second.to_owned()];
    [
        ("cpu.weight", both("200", "50")),
        ("cpu.max", both("50000 100000", "80000 100000")),
        ("cpuset.cpus", both("1", "0-1")),
        ("memory.max", [mib(256), mib(384)]),
        ("memory.high", [mib(192), mib(320)]),
        ("memory.swap.max", [mib(64), mib(128)]),
        ("pids.max", both("64", "100")),
    ]
}

/// Asserts `lim`'s cgroup files as spec `which` (0: first.yaml, 1: second.yaml) sets them
/// ([`lim_files`]), and that its io.max holds the line `io_max` (its disk's).
#[track_caller]
fn assert_limits(vm: &Vm, which: usize, io_max: &str) {
    for (file, values) in lim_files() {
        assert_eq!(cg(vm, "lim", file), values[which], "lim's {file}");
    }
    let io = cg(vm, "lim", "io.max");
    assert!(io.contains(io_max), "{io}");
}

/// The `key` count in a flat keyed file such as memory.events.
fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// The row of JSON `rows` whose `key` is `value`.
fn row_where<'a>(rows: &'a [serde_json::Value], key: &str, value: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {rows:?}"))
}

/// The container's init PID, from `fleet get containers -o json`.
fn init_pid(cluster: &Cluster, spec: &str, name: &str) -> i64 {
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&cluster.fleet_ok(&["get", "containers", "-f", spec, "-o", "json"]))
            .unwrap();
    let row = row_where(&rows, "name", name);
    assert_eq!(row["state"], "running", "{row}");
    row["init_pid"].as_i64().unwrap()
}

/// The `major:minor` of the container's own disk (a loop device mounted as its writable layer
/// at `<root>/containers/<name>/disk` on the host).
fn disk_device(vm: &Vm, name: &str) -> String {
    vm.ssh
        .ok(&[
            "mountpoint",
            "-d",
            &format!("/var/lib/fleet-node/containers/{name}/disk"),
        ])
        .trim()
        .to_owned()
}

/// `fleet exec` of `sh -c script` in `hog`, whatever its exit status.
fn hog_sh(cluster: &Cluster, spec: &str, script: &str) -> std::process::Output {
    cluster.fleet(&["exec", "hog", "-f", spec, "--", "/bin/sh", "-c", script])
}

/// `df -k /` inside the container: its file system's size in KiB.
fn df_kib(cluster: &Cluster, spec: &str, name: &str) -> u64 {
    let out = cluster.fleet_ok(&["exec", name, "-f", spec, "--", "df", "-k", "/"]);
    let line = out.lines().nth(1).unwrap_or_else(|| panic!("df: {out}"));
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("df: {out}"))
}

const SLEEP: &str = "command: [\"/bin/sleep\", \"1000000\"]";

/// `lim`'s resources as second.yaml changes them live (third.yaml keeps them).
const CHANGED: &str = "{cpu: {units: 500, limit: 80%, cpus: \"0-1\"}, memory: 384Mi, \
                       memory_high: 320Mi, swap: 128Mi, pids: 100, disk: {space: 256Mi}, \
                       io: {read_bps: 20Mi, write_bps: 5Mi}}";

/// The VM this phase runs on (its only host in the specs).
const HOST: &str = "vm-0";

fn spec_of(cluster: &Cluster, file: &str, lim: &str, weight: &str) -> String {
    let containers = format!(
        "  - name: lim\n    template: busybox\n    {SLEEP}\n    host: vm-0\n    \
         resources: {lim}\n  \
         - name: hog\n    template: busybox\n    {SLEEP}\n    host: vm-0\n    \
         resources: {{memory: 32Mi, pids: 8{weight}}}\n"
    );
    cluster
        .write_spec_on(file, "limits", &[HOST], &containers)
        .display()
        .to_string()
}

/// The phase: on vm-0 (bootstrapped, with 2 vCPUs), every limit set, changed live, counted.
pub fn every_v2_limit_is_set_and_changed_live_and_counted(cluster: &Cluster) {
    let vm = cluster.vm(HOST);

    let first = spec_of(
        cluster,
        "first.yaml",
        "{cpu: {units: 2000, limit: 50%, cpus: \"1\"}, memory: 256Mi, memory_high: 192Mi, \
         swap: 64Mi, pids: 64, disk: {space: 128Mi}, io: {read_bps: 10Mi, write_iops: 200}}",
        ", io: {weight: 500}",
    );

    // The disk runs none or mq-deadline, neither of which reads weights: the plan says so,
    // naming the host and the scheduler.
    let sched = vm.ssh.ok(&["cat", "/sys/block/vda/queue/scheduler"]);
    let active = sched
        .split_whitespace()
        .find_map(|s| s.strip_prefix('[')?.strip_suffix(']'))
        .unwrap_or_else(|| panic!("{sched}"))
        .to_owned();
    assert_ne!(active, "bfq", "{sched}");
    let plan = cluster.fleet(&["plan", "-f", &first]);
    let text =
        String::from_utf8_lossy(&plan.stdout).into_owned() + &String::from_utf8_lossy(&plan.stderr);
    assert!(
        text.contains("warning: io.weight of hog is ignored on vm-0")
            && text.contains(&format!("is {active}, which reads no weights")),
        "{text}"
    );

    // Under BFQ the weight counts: no warning, and it goes to io.bfq.weight.
    vm.ssh
        .sh("modprobe bfq && echo bfq > /sys/block/vda/queue/scheduler");
    let plan = cluster.fleet_ok(&["plan", "-f", &first]);
    assert!(!plan.contains("io.weight of"), "{plan}");
    cluster.fleet_ok(&["apply", "-f", &first, "--yes"]);

    let pid = init_pid(cluster, &first, "lim");
    let dev = disk_device(vm, "lim");
    assert!(dev.starts_with("7:"), "the disk is a loop device: {dev}");
    assert_limits(
        vm,
        0,
        &format!("{dev} rbps=10485760 wbps=max riops=max wiops=200"),
    );
    // 500 on the spec's 1..10000 scale is 136 on BFQ's 1..1000.
    assert_eq!(cg(vm, "hog", "io.bfq.weight"), "default 136");
    let procs = cg(vm, "lim", "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    cluster.assert_converged(&first);
    let small = df_kib(cluster, &first, "lim");
    assert!((100 << 10..=128 << 10).contains(&small), "df: {small} KiB");

    // Change every limit (and grow the disk) live: same init, new values in the files.
    let second = spec_of(cluster, "second.yaml", CHANGED, ", io: {weight: 50}");
    let plan = cluster.fleet_ok(&["plan", "-f", &second]);
    eprintln!("{plan}");
    assert!(
        plan.contains("~ lim") && plan.contains("~ hog") && plan.contains("0 to restart"),
        "{plan}"
    );
    let applied = cluster.fleet_ok(&["apply", "-f", &second, "--yes"]);
    eprintln!("{applied}");
    assert_eq!(init_pid(cluster, &second, "lim"), pid, "the same init");
    assert_limits(
        vm,
        1,
        &format!("{dev} rbps=20971520 wbps=5242880 riops=max wiops=max"),
    );
    assert_eq!(cg(vm, "hog", "io.bfq.weight"), "default 50");
    // The disk grew while mounted: the file system inside is about 256Mi now.
    let big = df_kib(cluster, &second, "lim");
    assert!((228 << 10..=256 << 10).contains(&big), "df: {big} KiB");
    cluster.assert_converged(&second);

    // Hogs: memory.events max and pids.events max count the hits, and the counters say so.
    let before = keyed(&cg(vm, "hog", "memory.events"), "max");
    // tail keeps every line of /dev/zero (no newline ever comes): it grows until the kernel
    // kills it at memory.max. The shell around it goes on.
    let out = hog_sh(cluster, &second, "tail /dev/zero; echo survived");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("survived"),
        "{out:?}"
    );
    let events = cg(vm, "hog", "memory.events");
    assert!(keyed(&events, "max") > before, "{events}");
    assert!(keyed(&events, "oom_kill") >= 1, "{events}");
    // More tasks than pids.max (8, the sleeping init holds one): the forks past it fail.
    let out = hog_sh(
        cluster,
        &second,
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 </dev/null >/dev/null 2>&1 & done; wait",
    );
    // The shell may give up at the first refused fork: its status is not the point.
    let _ = out;
    let pids_events = cg(vm, "hog", "pids.events");
    assert!(keyed(&pids_events, "max") >= 1, "{pids_events}");

    let counters: Vec<serde_json::Value> =
        serde_json::from_str(
            &vm.ssh
                .ok(&["/usr/local/bin/fleet-node", "counters", "-o", "json"]),
        )
        .unwrap();
    let hog = row_where(&counters, "name", "hog");
    let rows = hog["counters"].as_array().unwrap();
    let row = |resource: &str| row_where(rows, "resource", resource);
    assert_eq!(
        row("memory")["failcnt"].as_u64(),
        Some(keyed(&events, "max")),
        "{hog}"
    );
    assert!(row("pids")["failcnt"].as_u64().unwrap() >= 1, "{hog}");
    // PSI: cpu, memory and io rows; the memory hog stalled on reclaim.
    let pressure = hog["pressure"]
        .as_array()
        .unwrap_or_else(|| panic!("{hog}"));
    let resources: Vec<&str> = pressure
        .iter()
        .map(|p| p["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources, ["cpu", "memory", "io"], "{hog}");
    assert!(
        pressure[1]["some"]["total_us"].as_u64().unwrap() > 0,
        "memory pressure under the hog: {hog}"
    );
    let text = vm.ssh.ok(&["/usr/local/bin/fleet-node", "counters", "hog"]);
    assert!(text.contains("Pressure"), "{text}");

    // iocost instead of BFQ: the hello names io.weight, and a weight changed live goes there.
    vm.ssh
        .sh("echo mq-deadline > /sys/block/vda/queue/scheduler && \
         echo \"$(cat /sys/block/vda/dev) enable=1\" > /sys/fs/cgroup/io.cost.qos");
    let hosts: Vec<serde_json::Value> =
        serde_json::from_str(&cluster.fleet_ok(&["get", "hosts", "-f", &second, "-o", "json"]))
            .unwrap();
    let file = &hosts[0]["node"]["features"]["io_weight_file"];
    assert_eq!(file, "io.weight", "the hello under iocost: {hosts:?}");
    let third = spec_of(cluster, "third.yaml", CHANGED, ", io: {weight: 300}");
    let applied = cluster.fleet_ok(&["apply", "-f", &third, "--yes"]);
    assert!(!applied.contains("io.weight of"), "{applied}");
    assert_eq!(cg(vm, "hog", "io.weight"), "default 300");
}
