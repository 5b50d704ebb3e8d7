//! Benchmark: a cold move between two local sshd hosts of a container with 1 GiB written inside
//! its 2 GiB disk, for data that compresses (text) and data that does not (random): the wall
//! time of `fleet apply` for the move, the container's downtime, and the bytes that crossed the
//! sessions, against the image's size (what a plain copy of the file would send).
//!
//! Needs root, /usr/sbin/sshd, and `fleet` and `fleet-node` built in the same profile:
//! `cargo build --release -p fleet -p fleet-node --bins --examples` then
//! `target/release/examples/move_bench`. Figures go in docs/reconciler.md; this is a benchmark,
//! not a test.

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
        let (took, out) = fleet(&["apply", "-f", &file, "--yes"]);
        let note = out
            .lines()
            .find(|l| l.contains("big moved"))
            .unwrap_or("no move note")
            .trim_start_matches("note: ")
            .to_owned();
        let field = |after: &str, until: &str| {
            note.split_once(after)
                .and_then(|(_, rest)| rest.split_once(until))
                .map(|(v, _)| v.trim().to_owned())
                .unwrap_or_default()
        };
        println!(
            "| {label} | {:.1} s | {} s | {} | {} | {note} |",
            took.as_secs_f64(),
            field("down ", " s"),
            field("(cold): ", " sent"),
            field("in a ", " image"),
        );
        let _ = Command::new(sshd::target_dir().join("fleet"))
            .args(["destroy", "-f", &file, "--yes"])
            .output();
        // The nodes' cgroup parents, emptied by the destroy.
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
}
