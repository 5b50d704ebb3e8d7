//! `fleet get hosts`: every host of the spec as its node describes itself in the hello: the
//! fleet-node version and protocol that answer there, kernel, cgroup version, capacity, how
//! many containers it holds and what they use (cpu, memory, disk, summed over every container
//! there); `-o wide` adds the features found at run time, `-o json` the whole hello. An unreachable host gets a row saying so and makes the exit status 1.

use std::fmt::Write as _;

use crate::schedule::{Amounts, Resource};
use fleet_protocol::NodeInfo;
use serde::Serialize;

use super::GetOutput;
use crate::observe::{HostObservation, Observed};

#[derive(Serialize)]
struct Row<'a> {
    host: &'a str,
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a NodeInfo>,
    containers: usize,
    /// What the host's containers use (cpu in percent of one CPU, memory and disk in bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    used: Option<Amounts>,
}

/// Prints the hosts in `output`'s form; returns whether any host was unreachable.
pub fn print(observed: &Observed, output: GetOutput) -> miette::Result<bool> {
    let usage = observed.usage();
    let rows: Vec<Row> = observed
        .hosts
        .iter()
        .map(|(host, obs)| match obs {
            HostObservation::Reachable { node, containers } => Row {
                host,
                reachable: true,
                error: None,
                node: node.as_ref(),
                containers: containers.len(),
                used: usage.get(host.as_str()).copied(),
            },
            HostObservation::Unreachable { error } => Row {
                host,
                reachable: false,
                error: Some(error),
                node: None,
                containers: 0,
                used: None,
            },
        })
        .collect();
    let failed = rows.iter().any(|r| !r.reachable);
    if output == GetOutput::Json {
        let json = serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?;
        println!("{json}");
        return Ok(failed);
    }
    let wide = output == GetOutput::Wide;
    let mut out = format!(
        "{:<16} {:<11} {:<12} {:>5} {:<24} {:>6} {:>4} {:>8} {:>9} {:>10} {:>8} {:>8} {:>9}",
        "HOST",
        "STATE",
        "NODE",
        "PROTO",
        "KERNEL",
        "CGROUP",
        "CPUS",
        "MEMORY",
        "DISK FREE",
        "CONTAINERS",
        "CPU USED",
        "MEM USED",
        "DISK USED"
    );
    if wide {
        out.push_str(" FEATURES");
    }
    out.push('\n');
    for r in &rows {
        match r.node {
            Some(n) => {
                let _ = write!(
                    out,
                    "{:<16} {:<11} {:<12} {:>5} {:<24} {:>6} {:>4} {:>8} {:>9} {:>10} {:>8} {:>8} {:>9}",
                    r.host,
                    "reachable",
                    n.node_version,
                    n.protocol_version,
                    n.kernel,
                    format!("v{}", n.cgroup_version),
                    n.capacity.cpus,
                    Resource::Memory.format(n.capacity.memory),
                    Resource::Disk.format(n.capacity.disk_free),
                    r.containers,
                    used(r.used, Resource::Cpu),
                    used(r.used, Resource::Memory),
                    used(r.used, Resource::Disk),
                );
                if wide {
                    let f = &n.features;
                    let on: Vec<&str> = [
                        (f.loop_devices, "loop"),
                        (f.overlayfs, "overlayfs"),
                        (f.criu, "criu"),
                        (f.busybox, "busybox"),
                        (f.io_weight, "io-weight"),
                        (f.online_disk_grow, "online-disk-grow"),
                    ]
                    .into_iter()
                    .filter_map(|(has, name)| has.then_some(name))
                    .collect();
                    let _ = write!(out, " {}", on.join(","));
                }
            }
            None => {
                let state = if r.reachable {
                    "reachable"
                } else {
                    "unreachable"
                };
                let _ = write!(out, "{:<16} {:<11} {:<12}", r.host, state, "-");
            }
        }
        out.push('\n');
    }
    print!("{out}");
    for r in rows.iter().filter(|r| !r.reachable) {
        eprintln!(
            "error: host {} is unreachable: {}",
            r.host,
            r.error.unwrap_or_default()
        );
    }
    Ok(failed)
}

/// One resource of what a host's containers use, or `-` when the host could not say.
fn used(amounts: Option<Amounts>, r: Resource) -> String {
    amounts.map_or_else(|| "-".into(), |a| r.format(a.get(r)))
}
