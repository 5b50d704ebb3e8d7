//! How many hosts of one shape a fleet's containers need: the lower bound (the binding
//! resource's total demand over one host's allocatable, rounded up) and what the packer
//! achieves on identical hosts.
//!
//! Neighbours: runs `packer` (through `place_with`) on a synthetic fleet; reported by
//! `capacity`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::resources::{Amounts, DemandDefaults, Resource, demand};
use super::{Options, host_limits, place_with};
use crate::model::{Fleet, Host, HostCapacity, NodeSettings, Overcommit, Placement, Transport};

/// The shape of one host to plan with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostShape {
    /// CPUs.
    pub cpus: u32,
    /// Memory in bytes.
    pub memory: u64,
    /// Disk for container images in bytes.
    pub disk: u64,
    /// Overcommit ratios.
    pub overcommit: Overcommit,
}

impl HostShape {
    /// The shape of an existing host, if its capacity is declared.
    pub fn of(host: &Host) -> Option<HostShape> {
        Some(HostShape {
            cpus: host.capacity.cpus?,
            memory: host.capacity.memory?,
            disk: host.capacity.disk?,
            overcommit: host.overcommit,
        })
    }

    fn host(&self, name: String) -> Host {
        Host {
            name,
            transport: Transport::Local,
            labels: BTreeMap::new(),
            capacity: HostCapacity {
                cpus: Some(self.cpus),
                memory: Some(self.memory),
                disk: Some(self.disk),
            },
            overcommit: self.overcommit,
            node: NodeSettings::default(),
        }
    }
}

/// The answer of [`hosts_needed`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostsNeeded {
    /// What one host of the shape can hold.
    pub allocatable_per_host: Amounts,
    /// Total demand of the fleet's containers.
    pub total_demand: Amounts,
    /// The resource that sets the lower bound.
    pub binding: Resource,
    /// No packing can use fewer hosts than this.
    pub lower_bound: usize,
    /// Hosts the packer used; `None` when some container fits no host of the shape.
    pub achieved: Option<usize>,
    /// Containers larger than one host of the shape.
    pub too_large: Vec<String>,
}

/// Hosts of `shape` needed for every container of `fleet`.
///
/// Pins, selectors and spread over labels are dropped (the synthetic hosts have no labels and
/// other names); spread over hosts is kept, as it changes how many hosts a group needs.
pub fn hosts_needed(fleet: &Fleet, shape: &HostShape, defaults: &DemandDefaults) -> HostsNeeded {
    let per_host = host_limits(&shape.host("shape".into()), None)
        .allocatable
        .expect("a shape declares every field");
    let demands: Vec<Amounts> = fleet
        .containers
        .iter()
        .map(|c| demand(c, defaults))
        .collect();
    let total = demands
        .iter()
        .fold(Amounts::default(), |acc, d| acc.plus(d));
    let (binding, lower_bound) = Resource::ALL
        .iter()
        .map(|r| (*r, hosts_for(total.get(*r), per_host.get(*r))))
        .fold(
            (Resource::Cpu, 0),
            |best, cur| {
                if cur.1 > best.1 { cur } else { best }
            },
        );
    let too_large: Vec<String> = fleet
        .containers
        .iter()
        .zip(&demands)
        .filter(|(_, d)| !d.fits_within(&per_host))
        .map(|(c, _)| c.spec.name.clone())
        .collect();
    let achieved = if too_large.is_empty() {
        achieve(fleet, shape, defaults, lower_bound.max(1))
    } else {
        None
    };
    HostsNeeded {
        allocatable_per_host: per_host,
        total_demand: total,
        binding,
        lower_bound,
        achieved,
        too_large,
    }
}

fn hosts_for(total: u64, per_host: u64) -> usize {
    match (total, per_host) {
        (0, _) => 0,
        (_, 0) => usize::MAX,
        (t, p) => t.div_ceil(p) as usize,
    }
}

/// Tries the lower bound and a few more hosts, then doubles; every container fits alone on a
/// host, so one host each always succeeds.
fn achieve(
    fleet: &Fleet,
    shape: &HostShape,
    defaults: &DemandDefaults,
    from: usize,
) -> Option<usize> {
    let containers: Vec<_> = fleet
        .containers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.host = None;
            c.placement = Placement {
                selector: BTreeMap::new(),
                spread: c.placement.spread.filter(|k| k == "host"),
                group: c.placement.group,
            };
            c
        })
        .collect();
    let options = Options {
        defaults: *defaults,
        ..Options::default()
    };
    let most = containers.len().max(1);
    let mut n = from.min(most);
    let mut step = 0;
    loop {
        let width = n.to_string().len();
        let synthetic = Fleet {
            name: fleet.name.clone(),
            hosts: (1..=n)
                .map(|i| shape.host(format!("shape-{i:0width$}")))
                .collect(),
            containers: containers.clone(),
            warnings: Vec::new(),
        };
        if let Ok(a) = place_with(&synthetic, &BTreeMap::new(), &BTreeMap::new(), &options) {
            return Some(a.hosts_used());
        }
        if n >= most {
            return None;
        }
        step += 1;
        n = if step < 8 { n + 1 } else { (n * 2).min(most) };
    }
}
