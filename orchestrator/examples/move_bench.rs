//! Benchmark: moves between two local sshd hosts.
//!
//! - cold: a container with 1 GiB written inside its 2 GiB disk, for data that compresses
//!   (text) and data that does not (random): the wall time of `fleet apply` for the move, the
//!   container's downtime, and the bytes that crossed the sessions, against the image's size
//!   (what a plain copy of the file would send).
//! - live: an idle busybox container moved back and forth N times (default 7): each move's
//!   downtime (freeze on the source to running on the target, as fleet saw it), the freeze for
//!   CRIU's dump, the restore, and the apply's wall time; medians with the spread.
//!
//! Needs root, /usr/sbin/sshd, a working criu for the live part (`$FLEET_NODE_CRIU`, else what
//! `scripts/criu` prints), and `fleet` and `fleet-node` built in the same profile:
//! `cargo build --release -p fleet -p fleet-node --bins --examples` then
//! `target/release/examples/move_bench [cold|live] [N]`. Figures go in docs/reconciler.md; this is
//! a benchmark, not a test.

mod support;

use std::process::Command;

use support::{fleet, sshd, write_spec};

fn spec(cluster: &sshd::Cluster, fleet: &str, host: usize) -> String {
    let containers = format!(
        "containers:\n  - name: big\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: node-{host}\n    resources: {{memory: 256Mi, disk: {{space: 2Gi}}}}\n"
    );
    write_spec(
        cluster,
        "bench.yaml",
        fleet,
        cluster.sshds.len(),
        "{cpus: 64, memory: 64Gi, disk: 100Gi}",
        &containers,
    )
}

fn main() {
    if let Some(missing) = sshd::prerequisites() {
        eprintln!("move_bench needs {missing}");
        std::process::exit(1);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("both");
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    println!("load before: {}", load());
    if which != "live" {
        cold();
    }
    if which != "cold" {
        live(n);
    }
    println!("load after: {}", load());
}

/// The load averages (`/proc/loadavg`'s first three fields), for the figures.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn cold() {
    // What goes in: 1 GiB of text (a log-like line repeated with a counter, which compresses)
    // and 1 GiB from /dev/urandom (which does not).
    let cases = [
        (
            "text",
            "seq 1 3000000 | sed 's/^/fleet moved this container, line /' | head -c 67108864 > /part && \
             for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat /part; done > /big && rm /part",
        ),
        (
            "random",
            "dd if=/dev/urandom of=/big bs=1048576 count=1024 2>/dev/null",
        ),
    ];
    println!("| data written (1 GiB) | apply wall time | downtime | sent | image | note |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, fill) in cases {
        let cluster = sshd::Cluster::start(2);
        let name = format!("bench-{}", sshd::unique());
        let file = spec(&cluster, &name, 0);
        fleet(&["apply", "-f", &file, "--yes"]);
        let (filled, _) = fleet(&[
            "exec",
            "-f",
            &file,
            "big",
            "--",
            "/bin/sh",
            "-c",
            &format!("{fill} && sync && ls -l /big"),
        ]);
        eprintln!("{label}: wrote 1 GiB in {:.1} s", filled.as_secs_f64());
        spec(&cluster, &name, 1);
        let (took, out) = fleet(&["apply", "-f", &file, "--yes", "-o", "json"]);
        let m = moved(&out);
        println!(
            "| {label} | {:.1} s | {:.1} s | {} MiB | {} MiB | {} MiB of data, cold |",
            took.as_secs_f64(),
            m["downtime_ms"].as_u64().unwrap_or_default() as f64 / 1000.0,
            mib(&m["sent_bytes"]),
            mib(&m["image_bytes"]),
            mib(&m["data_bytes"]),
        );
        clean_up(&cluster, &file);
    }
}

/// The report's figures of its one move (`-o json`'s `moves[0]`).
fn moved(report: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_str(report).expect("a JSON report");
    report["moves"][0].clone()
}

fn mib(bytes: &serde_json::Value) -> String {
    format!(
        "{:.1}",
        bytes.as_u64().unwrap_or_default() as f64 / f64::from(1 << 20)
    )
}

/// Destroys the bench's containers and the nodes' emptied cgroup parents.
fn clean_up(cluster: &sshd::Cluster, file: &str) {
    let _ = Command::new(sshd::target_dir().join("fleet"))
        .args(["destroy", "-f", file, "--yes"])
        .output();
    for controller in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for i in 0..2 {
            let _ = std::fs::remove_dir(
                controller
                    .path()
                    .join(format!("{}-{i}", cluster.cgroup_prefix)),
            );
        }
    }
}

/// The criu the nodes use: `$FLEET_NODE_CRIU`, else what `scripts/criu` prints.
fn criu() -> String {
    if let Ok(path) = std::env::var("FLEET_NODE_CRIU") {
        return path;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/criu");
    let out = Command::new(&script).output().expect("run scripts/criu");
    assert!(out.status.success(), "scripts/criu failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `n` live moves of an idle busybox container, back and forth.
fn live(n: usize) {
    let criu = criu();
    let cluster = sshd::Cluster::start_with_env(2, &[format!("FLEET_NODE_CRIU={criu}")]);
    let name = format!("bench-{}", sshd::unique());
    let containers = |host: usize| {
        format!(
            "containers:\n  - name: idle\n    template: busybox\n    \
             command: [\"/bin/sleep\", \"1000000\"]\n    host: node-{host}\n    \
             resources: {{memory: 64Mi, disk: {{space: 64Mi}}}}\n"
        )
    };
    let capacity = "{cpus: 64, memory: 64Gi, disk: 100Gi}";
    let file = write_spec(&cluster, "live.yaml", &name, 2, capacity, &containers(0));
    fleet(&["apply", "-f", &file, "--yes"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let mut rows: Vec<[f64; 4]> = Vec::new();
    println!();
    println!(
        "| move | downtime | frozen for the dump | restore | apply wall time | sent (image + dump) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for i in 0..n {
        let to = (i + 1) % 2;
        write_spec(&cluster, "live.yaml", &name, 2, capacity, &containers(to));
        let (took, out) = fleet(&["apply", "-f", &file, "--yes", "-o", "json"]);
        let m = moved(&out);
        assert_eq!(m["live"], true, "not a live move: {out}");
        let ms = |key: &str| m[key].as_u64().unwrap_or_default() as f64;
        let row = [
            ms("downtime_ms"),
            ms("frozen_ms"),
            ms("restore_ms"),
            took.as_secs_f64() * 1000.0,
        ];
        println!(
            "| {} -> {} | {} ms | {} ms | {} ms | {:.0} ms | {:.1} KiB + {:.1} KiB |",
            m["from"].as_str().unwrap_or_default(),
            m["to"].as_str().unwrap_or_default(),
            row[0],
            row[1],
            row[2],
            row[3],
            ms("sent_bytes") / 1024.0,
            ms("checkpoint_sent_bytes") / 1024.0,
        );
        rows.push(row);
    }
    let stat = |k: usize| {
        let mut v: Vec<f64> = rows.iter().map(|r| r[k]).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let parts = [
        "downtime",
        "frozen for the dump",
        "restore",
        "apply wall time",
    ];
    for (k, part) in parts.iter().enumerate() {
        let (median, best, worst) = stat(k);
        println!("{part}: median {median:.0} ms (best {best:.0}, worst {worst:.0}) over {n} moves");
    }
    clean_up(&cluster, &file);
}
