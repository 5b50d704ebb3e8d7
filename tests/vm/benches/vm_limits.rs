//! Benchmark (issue 11): live update of 100 containers and counters for 100, on a cgroup v2 VM
//! (TCG) and on this host (cgroup v1), in the same run, with the same binary: fleet-node's own
//! `limits_batch` bench, its container phase (`Runtime::update` per container, as one protocol
//! `Apply` batch runs them, then `Runtime::counters` and `Runtime::list`), copied into the VM.
//!
//! Run as root: `scripts/bench-vm` (builds both benches in one profile, then runs this one).
//! `FLEET_BENCH_N` changes the count (default 100). Prints both sides' lines and the ratios;
//! figures go to docs/limits.md by hand. The VM and everything the inner bench made go at the
//! end (the inner bench cleans up after itself, the VM is killed and its overlay removed).

use std::path::PathBuf;
use std::process::Command;

use fleet_vm::{Cluster, VmOptions, prereq};

/// The newest `limits_batch-<hash>` executable in the profile's deps directory.
fn limits_batch() -> PathBuf {
    let deps = fleet_vm::bins::profile_dir().join("deps");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&deps)
        .expect("read target deps")
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("limits_batch-") && !name.contains('.')
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!(
            "no limits_batch bench in {} (run scripts/bench-vm, which builds it)",
            deps.display()
        )
    })
}

/// The duration in the line containing `what` (`... in 123.4ms (...)`), in milliseconds.
fn millis(output: &str, what: &str) -> Option<f64> {
    let line = output.lines().find(|l| l.contains(what))?;
    let after = line.split(" in ").nth(1)?;
    let token = after.split_whitespace().next()?;
    let (number, unit) = token
        .find(|c: char| c.is_ascii_alphabetic() || c == 'µ')
        .map(|i| token.split_at(i))?;
    let value: f64 = number.parse().ok()?;
    Some(match unit {
        "s" => value * 1000.0,
        "ms" => value,
        "µs" | "us" => value / 1000.0,
        "ns" => value / 1e6,
        _ => return None,
    })
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("vm_limits: a benchmark; run it with scripts/bench-vm");
        return;
    }
    let missing: Vec<String> = prereq::missing()
        .into_iter()
        .filter(|m| !m.contains("is not built"))
        .collect();
    assert!(
        missing.is_empty(),
        "the VM tier cannot run here; missing:\n  - {}",
        missing.join("\n  - ")
    );
    let n: usize = std::env::var("FLEET_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let bench = limits_batch();
    let env = [
        ("FLEET_BENCH_N", n.to_string()),
        ("FLEET_BENCH_CGROUPS", "0".to_owned()),
    ];

    println!("vm_limits: {} on this host (N={n})", bench.display());
    let out = Command::new(&bench)
        .arg("--bench")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run limits_batch here");
    let here = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "limits_batch failed here: {here}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{here}");

    let cluster = Cluster::boot(
        1,
        VmOptions {
            cpus: 2,
            memory_mib: 2048,
        },
    );
    let vm = &cluster.vms[0];
    vm.ssh.copy_in(&bench, "/root/limits_batch", 0o755);
    let mut argv: Vec<String> = vec!["env".into()];
    argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    argv.extend(["/root/limits_batch".into(), "--bench".into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    println!("vm_limits: the same binary in {} (cgroup v2, TCG)", vm.name);
    let there = vm.ssh.ok(&argv);
    print!("{there}");

    println!("\n| what (N={n}) | this host, v1 | VM, v2 (TCG) | VM / host |\n|---|---|---|---|");
    for (label, what) in [
        ("create and start", "created and started"),
        ("live update, batch 1", "live update of"),
        ("counters", "counters for"),
        ("list with live limits", "list with live limits"),
    ] {
        let (h, v) = (millis(&here, what), millis(&there, what));
        let show = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.1} ms"));
        let ratio = match (h, v) {
            (Some(h), Some(v)) if h > 0.0 => format!("{:.1}x", v / h),
            _ => "-".to_owned(),
        };
        println!("| {label} | {} | {} | {ratio} |", show(h), show(v));
    }
}
