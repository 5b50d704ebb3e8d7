//! Placement benchmark: speed on 10,000 containers and 500 hosts and on 100,000 containers and
//! 5,000 hosts, and packing quality (hosts used against the lower bound) on synthetic mixed
//! workloads, next to plain first-fit.
//!
//! Run: `cargo run --release -p fleet --example placement_bench`. Times are CPU time (the
//! machine is shared). Figures go in docs/placement.md and docs/scale.md; nothing here asserts a
//! time.

use std::collections::BTreeMap;
use std::time::Duration;

use fleet::model::{
    DesiredContainer, Fleet, Host, HostCapacity, NodeSettings, Overcommit, Placement, Transport,
};
use fleet::schedule::{
    Current, DemandDefaults, HostShape, Options, Strategy, hosts_needed, place, place_with,
};
use fleet_protocol::{ContainerSpec, Resources, TemplateRef};

const GI: u64 = 1 << 30;
const MI: u64 = 1 << 20;

/// xorshift64*: deterministic, so every run measures the same fleets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn host(name: String, cpus: u32, memory: u64, disk: u64, cpu_oc: f64, zone: &str) -> Host {
    Host {
        name,
        transport: Transport::Local,
        labels: BTreeMap::from([("zone".to_string(), zone.to_string())]),
        capacity: HostCapacity {
            cpus: Some(cpus),
            memory: Some(memory),
            disk: Some(disk),
        },
        overcommit: Overcommit {
            cpu: cpu_oc,
            memory: 1.0,
        },
        node: NodeSettings::default(),
    }
}

fn container(name: String, cpu: u32, memory: u64, disk: u64) -> DesiredContainer {
    DesiredContainer {
        spec: ContainerSpec {
            resources: Resources {
                cpu_limit: Some(cpu),
                memory: Some(memory),
                disk_space: Some(disk),
                ..Resources::default()
            },
            ..ContainerSpec::new(
                "bench",
                &name,
                TemplateRef::Busybox,
                vec!["/bin/sleep".into(), "1000".into()],
            )
        },
        host: None,
        placement: Placement::default(),
        depends_on: Vec::new(),
    }
}

/// Profiles of the mixed workload: (cpu %, memory, disk, weight).
const PROFILES: [(u32, u64, u64, u64); 6] = [
    (25, 512 * MI, 5 * GI, 30), // tiny
    (50, GI, 10 * GI, 25),      // small
    (100, 2 * GI, 20 * GI, 20), // medium
    (200, 8 * GI, 50 * GI, 10), // large
    (400, 2 * GI, 10 * GI, 8),  // cpu-heavy
    (50, 16 * GI, 40 * GI, 7),  // memory-heavy
];

fn profile(rng: &mut Rng) -> (u32, u64, u64) {
    let total: u64 = PROFILES.iter().map(|p| p.3).sum();
    let mut pick = rng.below(total);
    for (cpu, mem, disk, w) in PROFILES {
        if pick < w {
            return (cpu, mem, disk);
        }
        pick -= w;
    }
    unreachable!("weights cover the range")
}

/// 500 hosts in 4 zones; 10,000 containers of the mixed profiles, a fifth with a zone selector
/// and a fifth spread over zones in groups of 10.
fn large_fleet(hosts: usize, containers: usize) -> Fleet {
    let zones = ["a", "b", "c", "d"];
    let hosts = (0..hosts)
        .map(|i| {
            host(
                format!("host-{i:03}"),
                64,
                256 * GI,
                4096 * GI,
                2.0,
                zones[i % 4],
            )
        })
        .collect();
    let mut rng = Rng(0x5eed);
    let containers = (0..containers)
        .map(|i| {
            let (cpu, mem, disk) = profile(&mut rng);
            let mut c = container(format!("ct-{i:05}"), cpu, mem, disk);
            match i % 5 {
                0 => {
                    c.placement
                        .selector
                        .insert("zone".into(), zones[rng.below(4) as usize].into());
                }
                1 => {
                    c.placement.spread = Some("zone".into());
                    c.placement.group = Some(format!("set-{}", i / 50));
                }
                _ => {}
            }
            c
        })
        .collect();
    Fleet {
        name: "bench".into(),
        hosts,
        containers,
        warnings: Vec::new(),
    }
}

/// CPU time this process has run (placement is single-threaded): on a machine shared with other
/// builds, wall time says more about the neighbours than about the scheduler.
fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Best and median CPU time of `runs` calls of `f`, and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = cpu_time();
        last = Some(f());
        times.push(cpu_time() - t);
    }
    times.sort();
    (times[0], times[runs / 2], last.expect("runs > 0"))
}

/// A workload on identical hosts, no constraints, for packing quality.
fn quality_fleet(
    name: &str,
    n: usize,
    hosts: usize,
    mut size: impl FnMut(&mut Rng) -> (u32, u64, u64),
) -> (String, Fleet) {
    let mut rng = Rng(0xfeed_beef);
    let fleet = Fleet {
        name: name.into(),
        hosts: (0..hosts)
            .map(|i| host(format!("h-{i:04}"), 32, 128 * GI, 2048 * GI, 1.0, "a"))
            .collect(),
        containers: (0..n)
            .map(|i| {
                let (cpu, mem, disk) = size(&mut rng);
                container(format!("c-{i:05}"), cpu, mem, disk)
            })
            .collect(),
        warnings: Vec::new(),
    };
    (name.into(), fleet)
}

/// Placement time of a fleet of `containers` on `hosts` (a fifth with a zone selector, a fifth
/// spread over zones in sets of 50), placed fresh and again from its own result.
fn speed(hosts: usize, containers: usize) {
    let fleet = large_fleet(hosts, containers);
    let none = BTreeMap::new();
    let (best, median, result) = time(5, || place(&fleet, &none, &Current::new()));
    let a = match result {
        Ok(a) => a,
        Err(e) => panic!("the benchmark fleet should fit: {e}"),
    };
    println!(
        "place {containers} containers on {hosts} hosts: best {:.1} ms, median {:.1} ms; {} hosts used, {} warnings",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        a.hosts_used(),
        a.warnings.len()
    );
    let big_shape = HostShape {
        cpus: 64,
        memory: 256 * GI,
        disk: 4096 * GI,
        overcommit: Overcommit {
            cpu: 2.0,
            memory: 1.0,
        },
    };
    let bound = hosts_needed(&fleet, &big_shape, &DemandDefaults::default()).lower_bound;
    println!(
        "  lower bound for that fleet (selectors and spread ignored): {bound} hosts; used/bound {:.3}",
        a.hosts_used() as f64 / bound as f64
    );
    // Re-placing from the result: every container is kept (the plan-after-apply case).
    let current = a.as_current();
    let (best, median, again) = time(5, || place(&fleet, &none, &current));
    let again = again.expect("fits");
    assert_eq!(again.as_current(), current);
    println!(
        "place again from the current placement (all kept): best {:.1} ms, median {:.1} ms",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    let none = BTreeMap::new();
    for (hosts, containers) in [(500, 10_000), (5_000, 100_000)] {
        speed(hosts, containers);
    }
    // Worst case for the host-by-host fill: every container a shape of its own.
    let (_, distinct) = quality_fleet("distinct", 10_000, 500, |r| {
        (
            (10 + r.below(290)) as u32,
            (256 + r.below(8 * 1024)) * MI,
            (1 + r.below(40)) * GI,
        )
    });
    let (best, median, result) = time(3, || place(&distinct, &none, &Current::new()));
    println!(
        "place 10000 containers of 10000 distinct shapes on 500 hosts: best {:.1} ms, median {:.1} ms; {} hosts used{}",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        result.as_ref().map_or(0, |a| a.hosts_used()),
        if result.is_ok() {
            ""
        } else {
            " (some did not fit)"
        }
    );

    println!(
        "\npacking quality (identical hosts of 32 CPUs, 128Gi, 2Ti, no overcommit; no constraints):"
    );
    println!(
        "{:<28} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9}",
        "workload", "ctrs", "bound", "pack", "ffit", "pack/lb", "ffit/lb"
    );
    let workloads = [
        quality_fleet("mixed profiles", 5000, 800, profile),
        quality_fleet("uniform random", 5000, 800, |r| {
            (
                (10 + r.below(390)) as u32,
                (256 + r.below(16 * 1024 - 256)) * MI,
                (1 + r.below(60)) * GI,
            )
        }),
        quality_fleet("cpu-heavy + memory-heavy", 4000, 800, |r| {
            if r.below(2) == 0 {
                ((200 + r.below(600)) as u32, (1 + r.below(4)) * GI, 10 * GI)
            } else {
                ((25 + r.below(75)) as u32, (8 + r.below(24)) * GI, 10 * GI)
            }
        }),
        // Every item takes over a third of a host's cpu, so two fit per host at most: the
        // optimum is 750 and the bound cannot be reached by any packing.
        quality_fleet("large items (bound loose)", 1500, 1000, |r| {
            ((1100 + r.below(500)) as u32, (4 + r.below(8)) * GI, 10 * GI)
        }),
    ];
    let shape = HostShape {
        cpus: 32,
        memory: 128 * GI,
        disk: 2048 * GI,
        overcommit: Overcommit::default(),
    };
    for (name, f) in &workloads {
        let needed = hosts_needed(f, &shape, &DemandDefaults::default());
        let pa = place(f, &none, &Current::new()).expect("enough hosts");
        let pack = pa.hosts_used();
        let ff = place_with(
            f,
            &none,
            &Current::new(),
            &Options {
                strategy: Strategy::FirstFit,
                ..Options::default()
            },
        )
        .expect("enough hosts")
        .hosts_used();
        let lb = needed.lower_bound;
        println!(
            "{:<28} {:>6} {:>6} {:>8} {:>8} {:>9.3} {:>9.3}   ({} binds; hosts_needed says {:?})",
            name,
            f.containers.len(),
            lb,
            pack,
            ff,
            pack as f64 / lb as f64,
            ff as f64 / lb as f64,
            needed.binding,
            needed.achieved
        );
    }
}
