//! What each host can hold: declared capacity, filled in from the node's hello where the spec
//! left a field out, multiplied by the overcommit ratios (cpu and memory; disk never).
//!
//! Neighbours: `packer` fills these slots; `capacity` reports them.

use std::collections::BTreeMap;

use fleet_protocol::Capacity;
use serde::Serialize;

use super::resources::Amounts;
use crate::model::Host;

/// A host's capacity as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostLimits {
    /// Raw capacity (cpu in percent: 4 CPUs = 400), or `None` when some field is known neither
    /// from the spec nor from the node.
    pub capacity: Option<Amounts>,
    /// Capacity times overcommit: what allocations may add up to.
    pub allocatable: Option<Amounts>,
    /// Which fields came from the node's report rather than the spec.
    pub observed_fields: Vec<&'static str>,
}

/// Resolves one host's limits from its declaration and, where the spec left a field out, the
/// capacity its node reported.
pub fn host_limits(host: &Host, observed: Option<&Capacity>) -> HostLimits {
    let mut observed_fields = Vec::new();
    let mut pick = |declared: Option<u64>, seen: Option<u64>, field: &'static str| match declared {
        Some(v) => Some(v),
        None => {
            if seen.is_some() {
                observed_fields.push(field);
            }
            seen
        }
    };
    let cpus = pick(
        host.capacity.cpus.map(u64::from),
        observed.map(|c| u64::from(c.cpus)),
        "cpus",
    );
    let memory = pick(host.capacity.memory, observed.map(|c| c.memory), "memory");
    let disk = pick(host.capacity.disk, observed.map(|c| c.disk_free), "disk");
    let capacity = match (cpus, memory, disk) {
        (Some(c), Some(m), Some(d)) => Some(Amounts::new(c.saturating_mul(100), m, d)),
        _ => None,
    };
    let allocatable = capacity.map(|c| {
        Amounts::new(
            scale(c.cpu, host.overcommit.cpu),
            scale(c.memory, host.overcommit.memory),
            c.disk,
        )
    });
    HostLimits {
        capacity,
        allocatable,
        observed_fields,
    }
}

/// Limits of every host, by name.
pub fn all_limits(
    hosts: &[Host],
    observed: &BTreeMap<String, Capacity>,
) -> BTreeMap<String, HostLimits> {
    hosts
        .iter()
        .map(|h| (h.name.clone(), host_limits(h, observed.get(&h.name))))
        .collect()
}

/// `value x ratio`, rounded down; ratios below 1 or not finite count as 1 (validation reports
/// them separately).
fn scale(value: u64, ratio: f64) -> u64 {
    let ratio = if ratio.is_finite() && ratio >= 1.0 {
        ratio
    } else {
        1.0
    };
    let scaled = (value as f64 * ratio).floor();
    if scaled >= u64::MAX as f64 {
        u64::MAX
    } else {
        scaled as u64
    }
}
