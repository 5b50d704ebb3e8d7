//! Benchmark of the network module: per-container cost of attach, a live address update,
//! read_live and detach, for N stand-in containers on one bridge, all inside a throwaway network
//! namespace (the machine's network is untouched). Run as root:
//! `cargo run --release -p fleet-node --example network_bench -- 250`.
//! Figures are recorded in docs/networking.md.

#[path = "../tests/network_support/mod.rs"]
mod network_support;

use std::time::{Duration, Instant};

use fleet_protocol::{NetworkMode, NetworkSpec};
use network_support::{FakeContainer, TestNetns};
use node_runtime::network;

fn spec(i: u32, extra: bool) -> NetworkSpec {
    let mut addresses = vec![format!("10.90.{}.{}/16", i / 200, i % 200 + 2)];
    if extra {
        addresses.push(format!("10.91.{}.{}/16", i / 200, i % 200 + 2));
    }
    NetworkSpec {
        mode: NetworkMode::Bridged,
        bridge: None,
        addresses,
        gateway: Some("10.90.255.1".to_string()),
    }
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(1, 10_000);
    if !network_support::prerequisites() {
        std::process::exit(1);
    }
    let host = TestNetns::new();
    let containers: Vec<FakeContainer> = (0..n).map(|_| FakeContainer::start()).collect();
    let name = |i: usize| format!("bench-{i}");

    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let attach = time(&|| {
        host.run(|| {
            for (i, c) in containers.iter().enumerate() {
                network::attach(c.pid(), &name(i), &spec(i as u32, false)).expect("attach");
            }
        })
    });
    let update = time(&|| {
        host.run(|| {
            for (i, c) in containers.iter().enumerate() {
                network::update_addresses(c.pid(), &spec(i as u32, false), &spec(i as u32, true))
                    .expect("update");
            }
        })
    });
    let read = time(&|| {
        for c in &containers {
            network::read_live(c.pid()).expect("read_live");
        }
    });
    let detach = time(&|| {
        host.run(|| {
            for i in 0..containers.len() {
                network::detach(&name(i)).expect("detach");
            }
        })
    });
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(n);
    println!(
        "containers={n} attach={:.2}ms update={:.2}ms read_live={:.2}ms detach={:.2}ms (per container)",
        per(attach),
        per(update),
        per(read),
        per(detach)
    );
}
