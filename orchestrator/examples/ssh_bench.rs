//! Benchmark: what one `fleet apply` costs per host in SSH sessions, for docs/scale.md. Starts
//! real sshds on 127.0.0.2, .3, ... and runs a no-op apply (hosts with no containers: one session
//! per host, the node's hello and container list, nothing to change) over 1 and over N of them,
//! at several `--parallel` settings, and prints for each: wall time, the CPU time of the `fleet`
//! process and of the server side (sshd and fleet-node, from the listeners' reaped-children
//! times), and fleet's peak resident memory, from which the memory each open session holds
//! follows (apply keeps every host's session open from observe to the end).
//!
//! Needs root, /usr/sbin/sshd, and `fleet` and `fleet-node` built in the same profile:
//! `cargo build --release -p fleet -p fleet-node --bins --examples` then
//! `target/release/examples/ssh_bench [HOSTS [PARALLEL...]]` (default 100 hosts, parallel 16 64
//! 256). On a machine shared with other work the wall time says as much about the neighbours as
//! about fleet: read the CPU times. This is a benchmark, not a test.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{sshd, write_spec};

/// User plus system CPU time of reaped children (`cutime + cstime` of /proc/PID/stat).
fn children_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [13, 14]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One run's figures.
struct Run {
    wall: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
    hwm_kib: u64,
}

/// Runs `fleet apply` on `spec`, sampling its peak memory until it exits.
fn apply(cluster: &sshd::Cluster, spec: &str, parallel: usize) -> Run {
    let bin = sshd::target_dir().join("fleet");
    let server = |c: &sshd::Cluster| -> Duration {
        c.sshds
            .iter()
            .filter_map(sshd::Sshd::pid)
            .map(children_cpu)
            .sum()
    };
    let self_pid = std::process::id();
    let (client0, server0) = (children_cpu(self_pid), server(cluster));
    let start = Instant::now();
    let mut child = Command::new(&bin)
        .args([
            "apply",
            "-f",
            spec,
            "--yes",
            "--parallel",
            &parallel.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let mut hwm = 0;
    while child.try_wait().expect("wait").is_none() {
        hwm = hwm.max(vm_hwm_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("output");
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("No changes."),
        "apply failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The listeners reap their session processes a moment after the connection closes.
    std::thread::sleep(Duration::from_millis(300));
    Run {
        wall,
        client_cpu: children_cpu(self_pid) - client0,
        server_cpu: server(cluster) - server0,
        hwm_kib: hwm,
    }
}

fn spec(cluster: &sshd::Cluster, hosts: usize) -> String {
    write_spec(
        cluster,
        &format!("hosts-{hosts}.yaml"),
        "sshbench",
        hosts,
        "{cpus: 64, memory: 64Gi}",
        "containers: []\n",
    )
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.client_cpu + r.server_cpu);
    runs.swap_remove(runs.len() / 2)
}

fn main() {
    let args = support::ready();
    let hosts = args.first().copied().unwrap_or(100).clamp(1, 250);
    let parallels = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![16, 64, 256]
    };
    let cluster = sshd::Cluster::start(hosts);
    let one = spec(&cluster, 1);
    let all = spec(&cluster, hosts);
    let base = median((0..3).map(|_| apply(&cluster, &one, 16)).collect());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "1 host: wall {:.0} ms, fleet cpu {:.0} ms, server cpu {:.0} ms, fleet peak RSS {} KiB",
        ms(base.wall),
        ms(base.client_cpu),
        ms(base.server_cpu),
        base.hwm_kib
    );
    for parallel in parallels {
        let r = median((0..3).map(|_| apply(&cluster, &all, parallel)).collect());
        let extra = hosts.saturating_sub(1).max(1) as f64;
        println!(
            "{hosts} hosts, --parallel {parallel}: wall {:.0} ms, fleet cpu {:.0} ms ({:.1} ms/host), \
             server cpu {:.0} ms ({:.1} ms/host), fleet peak RSS {} KiB ({:.0} KiB per open session)",
            ms(r.wall),
            ms(r.client_cpu),
            ms(r.client_cpu.saturating_sub(base.client_cpu)) / extra,
            ms(r.server_cpu),
            ms(r.server_cpu.saturating_sub(base.server_cpu)) / extra,
            r.hwm_kib,
            r.hwm_kib.saturating_sub(base.hwm_kib) as f64 / extra,
        );
    }
    // The nodes leave their (empty) cgroup parents behind.
    if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
        for c in controllers.flatten() {
            for i in 0..hosts {
                let _ =
                    std::fs::remove_dir(c.path().join(format!("{}-{i}", cluster.cgroup_prefix)));
            }
        }
    }
}
