//! Benchmark: load, validate and render a generated 10,000-container, 500-host spec.
//!
//! `cargo run --release -p fleet --example spec_bench [HOSTS CONTAINERS]`. Prints the median and
//! worst of 11 runs and the peak resident memory (VmHWM) of the process. Goal: under 300 ms and
//! under 200 MB. Figures are written down in docs/spec.md; this is a benchmark, not a test.

use std::time::{Duration, Instant};

#[path = "gen_spec.rs"]
mod gen_spec;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hosts = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let containers = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.yaml");
    let text = gen_spec::generate(hosts, containers, false);
    std::fs::write(&path, &text).expect("write spec");
    println!(
        "spec: {hosts} hosts, {containers} containers, {} lines, {} KiB",
        text.lines().count(),
        text.len() / 1024
    );
    drop(text);
    let before = vm_hwm_kib();
    let mut times = Vec::new();
    let mut rendered = 0;
    for _ in 0..11 {
        let start = Instant::now();
        let fleet = fleet::resolve::load(std::slice::from_ref(&path))
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let json = serde_json::to_vec(&fleet).expect("render");
        rendered = json.len();
        times.push(start.elapsed());
        assert_eq!(fleet.containers.len(), containers);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "load+validate+render: median {:.1} ms, worst {:.1} ms (rendered {} KiB of JSON)",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        rendered / 1024
    );
    println!(
        "peak resident memory: {} MiB (before loading: {} MiB)",
        vm_hwm_kib() / 1024,
        before / 1024
    );
}
