//! Whole-fleet checks that need every container resolved: dependency cycles, duplicate addresses,
//! and pinned containers that exceed their host's capacity times its overcommit.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use fleet_protocol::units::format_size;

use crate::spec::node::Pos;
use crate::spec::raw::RawHost;
use crate::spec::{Diagnostic, Diagnostics};

/// A container's name, position, dependencies and pinned host, for the checks.
pub struct Entry<'a> {
    /// Container name.
    pub name: &'a str,
    /// Where its entry is.
    pub pos: Pos,
    /// Names it depends on (already known to exist).
    pub depends_on: &'a [String],
}

/// Reports each dependency cycle once, printing it (`a -> b -> a`).
pub fn dependency_cycles(entries: &[Entry<'_>], d: &mut Diagnostics) {
    let index: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name, i))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; entries.len()];
    for start in 0..entries.len() {
        if state[start] != 0 {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut next: Vec<usize> = vec![0];
        state[start] = 1;
        while let Some(&node) = path.last() {
            let i = next.last_mut().expect("parallel stacks");
            let deps = entries[node].depends_on;
            if *i < deps.len() {
                let dep = &deps[*i];
                *i += 1;
                let Some(&j) = index.get(dep.as_str()) else {
                    continue;
                };
                match state[j] {
                    0 => {
                        state[j] = 1;
                        path.push(j);
                        next.push(0);
                    }
                    1 => {
                        let from = path.iter().position(|&p| p == j).expect("on path");
                        let mut names: Vec<&str> =
                            path[from..].iter().map(|&p| entries[p].name).collect();
                        names.push(entries[j].name);
                        d.push(
                            Diagnostic::at(
                                entries[j].pos,
                                format!("depends_on forms a cycle: {}", names.join(" -> ")),
                            )
                            .hint("remove one of these dependencies so that containers can start in order"),
                        );
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                path.pop();
                next.pop();
            }
        }
    }
}

/// Checks the syntax of an address in CIDR form; returns the address part.
pub fn parse_cidr(text: &str) -> Result<IpAddr, String> {
    let (addr, prefix) = text.split_once('/').ok_or_else(|| {
        format!("\"{text}\" has no prefix length; write it as CIDR, such as 10.0.0.5/24")
    })?;
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("\"{addr}\" is not an IPv4 or IPv6 address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= max => Ok(ip),
        _ => Err(format!(
            "prefix length \"{prefix}\" must be a number from 0 to {max}"
        )),
    }
}

/// Whether `ip` lies in the network of `cidr` (an address with prefix).
pub fn same_subnet(cidr: &str, ip: IpAddr) -> bool {
    let Some((addr, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(prefix)) = (addr.parse::<IpAddr>(), prefix.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Demand of the containers pinned to one host.
#[derive(Default)]
pub struct Demand {
    /// Sum of cpu.limit in percent of one CPU.
    pub cpu_percent: u64,
    /// Sum of memory limits.
    pub memory: u64,
    /// Sum of disk.space.
    pub disk: u64,
    /// Number of containers.
    pub count: usize,
}

/// Reports hosts whose pinned containers exceed the declared capacity × overcommit.
pub fn pinned_capacity(hosts: &[&RawHost], demand: &BTreeMap<String, Demand>, d: &mut Diagnostics) {
    for host in hosts {
        let Some(name) = &host.name else { continue };
        let Some(want) = demand.get(&name.value) else {
            continue;
        };
        let oc_cpu = host.overcommit_cpu.as_ref().map_or(1.0, |o| o.value);
        let oc_mem = host.overcommit_memory.as_ref().map_or(1.0, |o| o.value);
        if let Some(cpus) = &host.cpus {
            let allowed = f64::from(cpus.value) * 100.0 * oc_cpu;
            if want.cpu_percent as f64 > allowed {
                d.push(
                    Diagnostic::at(
                        cpus.pos,
                        format!(
                            "the {} containers pinned to host \"{}\" have cpu limits summing to {}% but it allows {}% ({} cpus x overcommit {oc_cpu})",
                            want.count, name.value, want.cpu_percent, allowed, cpus.value
                        ),
                    )
                    .hint("raise capacity.cpus or overcommit.cpu, or pin fewer containers here"),
                );
            }
        }
        if let Some(mem) = &host.memory {
            let allowed = (mem.value as f64 * oc_mem) as u64;
            if want.memory > allowed {
                d.push(
                    Diagnostic::at(
                        mem.pos,
                        format!(
                            "the {} containers pinned to host \"{}\" need {} of memory but it allows {} ({} x overcommit {oc_mem})",
                            want.count,
                            name.value,
                            format_size(want.memory),
                            format_size(allowed),
                            format_size(mem.value)
                        ),
                    )
                    .hint("raise capacity.memory or overcommit.memory, or pin fewer containers here"),
                );
            }
        }
        if let Some(disk) = &host.disk
            && want.disk > disk.value
        {
            d.push(
                Diagnostic::at(
                    disk.pos,
                    format!(
                        "the {} containers pinned to host \"{}\" need {} of disk but it has {}",
                        want.count,
                        name.value,
                        format_size(want.disk),
                        format_size(disk.value)
                    ),
                )
                .hint(
                    "disk is not overcommitted: raise capacity.disk or pin fewer containers here",
                ),
            );
        }
    }
}

/// Containers attached to one bridge on one host share its subnet: the node gives the bridge the
/// gateway's address with the subnet's prefix, so two gateways on one bridge cannot both hold.
/// Only pinned containers are checked; where unpinned ones land is placement's business.
pub fn bridge_subnets(
    containers: &[crate::model::DesiredContainer],
    positions: &HashMap<String, Pos>,
    d: &mut Diagnostics,
) {
    let mut bridges: HashMap<(&str, &str), (String, &str)> = HashMap::new();
    for c in containers {
        let net = &c.spec.network;
        let (Some(host), Some(gateway)) = (c.host.as_deref(), net.gateway.as_deref()) else {
            continue;
        };
        let Ok(gw) = gateway.parse::<IpAddr>() else {
            continue;
        };
        let Some(prefix) = net
            .addresses
            .iter()
            .find(|a| same_subnet(a, gw))
            .and_then(|a| a.split_once('/'))
            .map(|(_, p)| p)
        else {
            continue;
        };
        let bridge = net.bridge.as_deref().unwrap_or("fleet0");
        let subnet = format!("{gateway}/{prefix}");
        match bridges.get(&(host, bridge)) {
            None => {
                bridges.insert((host, bridge), (subnet, &c.spec.name));
            }
            Some((first, owner)) if *first != subnet => {
                let mut diag = Diagnostic::at(
                    positions[&c.spec.name],
                    format!(
                        "container \"{}\" puts bridge {bridge} on host {host} at {subnet}, but \"{owner}\" puts it at {first}",
                        c.spec.name
                    ),
                )
                .hint("containers on one bridge of one host share its subnet and gateway");
                if let Some(pos) = positions.get(*owner) {
                    diag = diag.related(*pos, "first set");
                }
                d.push(diag);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(parse_cidr("10.0.0.5/24").is_ok());
        assert!(parse_cidr("fd00::5/64").is_ok());
        assert!(parse_cidr("10.0.0.5").is_err());
        assert!(parse_cidr("10.0.0.300/24").is_err());
        assert!(parse_cidr("10.0.0.5/33").is_err());
        assert!(same_subnet("10.0.0.5/24", "10.0.0.1".parse().unwrap()));
        assert!(!same_subnet("10.0.0.5/24", "10.0.1.1".parse().unwrap()));
        assert!(same_subnet("10.0.0.5/0", "192.0.2.1".parse().unwrap()));
    }
}
