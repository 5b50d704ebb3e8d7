//! Benchmark: load, validate and render generated specs, at 500 hosts / 10,000 containers and
//! at 5,000 hosts / 100,000 containers, each written in three shapes (see gen_spec.rs): one
//! entry per container pinned to a host, one entry per container with a zone selector (as an
//! inventory would write it), and sets of 100.
//!
//! `cargo run --release -p fleet --example spec_bench` runs every case, each in its own process
//! so that its peak resident memory (VmHWM) is its own; `... -- HOSTS CONTAINERS SHAPE [RUNS]`
//! runs one. Prints the median and worst time of the runs. Goals: 10k under 300 ms and 200 MB;
//! 100k under 1.5 s and 500 MB (must: 3 s and 1 GB). Figures are written down in docs/spec.md and
//! docs/scale.md; this is a benchmark, not a test.

use std::time::{Duration, Instant};

#[path = "gen_spec.rs"]
mod gen_spec;

use gen_spec::Shape;

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

/// CPU time of every thread of this process, live or ended (`utime + stime` of /proc/self/stat,
/// in ticks of 10 ms): on a machine shared with other builds, wall time says more about the
/// neighbours than about us.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time of the calling thread alone, from the scheduler's own accounting (ns resolution):
/// the critical path of a load whose parser runs on a thread of its own.
fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

const CASES: &[(usize, usize, &str, usize)] = &[
    (500, 10_000, "pinned", 11),
    (500, 10_000, "inventory", 11),
    (500, 10_000, "sets", 11),
    (5_000, 100_000, "pinned", 5),
    (5_000, 100_000, "inventory", 5),
    (5_000, 100_000, "sets", 5),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        let me = std::env::current_exe().expect("own path");
        for (hosts, containers, shape, runs) in CASES {
            let status = std::process::Command::new(&me)
                .args([
                    hosts.to_string(),
                    containers.to_string(),
                    shape.to_string(),
                    runs.to_string(),
                ])
                .status()
                .expect("run a case");
            assert!(status.success(), "case {hosts} {containers} {shape} failed");
        }
        return;
    }
    let hosts: usize = args[0].parse().expect("HOSTS");
    let containers: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .expect("CONTAINERS");
    let shape_name = args.get(2).map_or("pinned", String::as_str);
    let shape = Shape::parse(shape_name).expect("SHAPE: pinned, inventory or sets");
    let runs: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(11);
    run_case(hosts, containers, shape_name, shape, runs);
}

fn run_case(hosts: usize, containers: usize, name: &str, shape: Shape, runs: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.yaml");
    let text = gen_spec::generate_shape(hosts, containers, false, shape);
    std::fs::write(&path, &text).expect("write spec");
    let (lines, kib) = (text.lines().count(), text.len() / 1024);
    drop(text);
    let mut load = Vec::new();
    let mut load_cpu = Vec::new();
    let mut load_main = Vec::new();
    let mut render = Vec::new();
    let mut yaml = Vec::new();
    let mut yaml_cpu = Vec::new();
    let mut rendered = 0;
    for _ in 0..runs {
        let (start, cpu, main) = (Instant::now(), cpu_time(), thread_cpu_time());
        let fleet = fleet::resolve::load(std::slice::from_ref(&path))
            .unwrap_or_else(|e| panic!("{}", e.render()));
        load.push(start.elapsed());
        load_cpu.push(cpu_time() - cpu);
        load_main.push(thread_cpu_time() - main);
        // What `fleet render -o json` prints (pretty), timed on its own.
        let start = Instant::now();
        let json = serde_json::to_vec_pretty(&fleet).expect("render");
        render.push(start.elapsed());
        rendered = json.len();
        drop(json);
        // What `fleet render` prints by default (YAML, containers in slices on every core).
        let (start, cpu) = (Instant::now(), cpu_time());
        let text = fleet::resolve::render::yaml(&fleet).expect("render yaml");
        yaml.push(start.elapsed());
        yaml_cpu.push(cpu_time() - cpu);
        drop(text);
        assert_eq!(fleet.containers.len(), containers);
    }
    load.sort();
    load_cpu.sort();
    load_main.sort();
    render.sort();
    yaml.sort();
    yaml_cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{containers:>6} containers / {hosts:>4} hosts, {name:<9} ({lines} lines, {kib} KiB): \
         load+validate median {:.0} ms (cpu {:.0} ms, main thread {:.0} ms), worst {:.0} ms; render json median \
         {:.0} ms ({} KiB); render yaml median {:.0} ms (cpu {:.0} ms); peak RSS {} MiB; \
         {runs} runs",
        ms(load[load.len() / 2]),
        ms(load_cpu[load_cpu.len() / 2]),
        ms(load_main[load_main.len() / 2]),
        ms(load[load.len() - 1]),
        ms(render[render.len() / 2]),
        rendered / 1024,
        ms(yaml[yaml.len() / 2]),
        ms(yaml_cpu[yaml_cpu.len() / 2]),
        vm_hwm_kib() / 1024,
    );
}
