//! Benchmark: diff and plan 10,000 containers on 500 hosts (or any size) from a given observed
//! state.
//!
//! `cargo run --release -p fleet --example plan_bench [HOSTS CONTAINERS]` (100,000 containers on
//! 5,000 hosts: `-- 5000 100000`). Prints the median and the worst CPU time of several runs for
//! three observed states: empty hosts (everything to create), a converged fleet (nothing to do)
//! and a converged fleet where one container in ten drifted. Figures are written down in
//! docs/reconciler.md and docs/scale.md; this is a benchmark, not a test.

use std::time::Duration;

use fleet::diff::{DiffOptions, HostObservation, Observed, diff};
use fleet::model::Fleet;
use fleet::plan::fixture::{converged_observation, empty_observation, large, pinned_assignment};
use fleet::plan::{plan, render};

/// CPU time this process has run (diff and plan are single-threaded): on a machine shared with
/// other builds, wall time says more about the neighbours than about us.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn measure(label: &str, fleet: &Fleet, observed: &Observed) {
    let placed = pinned_assignment(fleet);
    let mut times: Vec<Duration> = Vec::new();
    let mut summary = String::new();
    let mut render_time = Duration::ZERO;
    for _ in 0..11 {
        let start = cpu_time();
        let d = diff(fleet, &placed, &[], observed, DiffOptions::default());
        let p = plan(fleet, d).expect("no cycles in the generated fleet");
        times.push(cpu_time() - start);
        let start = cpu_time();
        let text = render::text(&p);
        render_time = cpu_time() - start;
        summary = text.lines().last().unwrap_or_default().to_string();
    }
    times.sort();
    println!(
        "{label:<28} diff+plan median {:>8.2?}  worst {:>8.2?}  (render text {:>8.2?})  {summary}",
        times[times.len() / 2],
        times[times.len() - 1],
        render_time
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let hosts = args.first().copied().unwrap_or(500);
    let containers = args.get(1).copied().unwrap_or(10_000);
    let fleet = large(hosts, containers);
    println!("{containers} containers on {hosts} hosts");
    measure(
        "empty hosts (all create)",
        &fleet,
        &empty_observation(&fleet),
    );
    let converged = converged_observation(&fleet);
    measure("converged (no changes)", &fleet, &converged);
    let mut drifted = converged.clone();
    for obs in drifted.hosts.values_mut() {
        if let HostObservation::Reachable { containers, .. } = obs {
            for (i, c) in containers.iter_mut().enumerate() {
                if i % 10 == 0 {
                    c.live.memory = Some(32 << 20);
                }
            }
        }
    }
    measure("one in ten drifted", &fleet, &drifted);
}
