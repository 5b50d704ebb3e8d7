//! Density planning: how full each host is (allocated versus capacity, with overcommit), how
//! many more of a shape fit, what a changed fleet or a drained host would look like, and how
//! many hosts a spec needs.
//!
//! Neighbours: builds on `schedule` (placement and its accounting) and reads the resolved
//! `model::Fleet`; rendered by `table`, `html` and serde (JSON); driven by
//! `commands::capacity`. Pure: observed capacity and usage come in as values.

use std::collections::BTreeMap;

use fleet_protocol::Capacity;
use serde::Serialize;

use crate::model::Fleet;
use crate::schedule::{
    Amounts, Assignment, Current, HostLimits, HostsNeeded, Options, Resource, Unplaced, all_limits,
};

pub mod drain;
pub mod fit;
pub mod html;
pub mod table;
pub mod what_if;

pub use drain::{DrainMove, DrainReport, drain};
pub use fit::{FitHost, FitReport, fit, parse_host_shape, parse_shape};
pub use what_if::{WhatIf, what_if};

/// One resource of one host (or of the whole fleet).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Line {
    /// Which resource.
    pub resource: Resource,
    /// Raw capacity (cpu in percent of one CPU).
    pub capacity: u64,
    /// Capacity times overcommit.
    pub allocatable: u64,
    /// Sum of the demands of the containers placed here.
    pub allocated: u64,
    /// `allocatable - allocated`, never below zero.
    pub headroom: u64,
    /// Actually in use, from the nodes' counters, where known.
    pub used: Option<u64>,
}

impl Line {
    fn new(resource: Resource, capacity: u64, allocatable: u64, allocated: u64) -> Self {
        Line {
            resource,
            capacity,
            allocatable,
            allocated,
            headroom: allocatable.saturating_sub(allocated),
            used: None,
        }
    }

    /// Allocated as a share of allocatable (0.0 when nothing is allocatable).
    pub fn utilisation(&self) -> f64 {
        if self.allocatable == 0 {
            0.0
        } else {
            self.allocated as f64 / self.allocatable as f64
        }
    }

    fn add(&mut self, other: &Line) {
        self.capacity += other.capacity;
        self.allocatable += other.allocatable;
        self.allocated += other.allocated;
        self.headroom += other.headroom;
        self.used = match (self.used, other.used) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

/// One host's density.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostDensity {
    /// Host name.
    pub host: String,
    /// Host labels.
    pub labels: BTreeMap<String, String>,
    /// Containers placed on it.
    pub containers: usize,
    /// False when its capacity is known neither from the spec nor from its node; its lines
    /// then show zero capacity.
    pub capacity_known: bool,
    /// Capacity fields taken from the node's report rather than the spec.
    pub observed_fields: Vec<&'static str>,
    /// Whether `used` figures come from the node's counters (the host was reachable).
    pub usage_observed: bool,
    /// Cpu, memory and disk, in that order.
    pub lines: [Line; 3],
    /// Allocation split by placement group (a container without a group counts under its own
    /// name), largest first by the host's tightest resource; feeds the stacked bars.
    pub by_group: Vec<(String, Amounts)>,
}

/// The density of a whole fleet under one placement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Density {
    /// Fleet name.
    pub fleet: String,
    /// Per host, by name.
    pub hosts: Vec<HostDensity>,
    /// Sums over hosts of known capacity.
    pub totals: [Line; 3],
    /// Hosts holding at least one container.
    pub hosts_used: usize,
    /// Containers placed.
    pub placed: usize,
    /// Containers that found no host, with why.
    pub unplaced: Vec<Unplaced>,
    /// Soft constraints not met.
    pub warnings: Vec<String>,
}

impl Density {
    /// One host's entry.
    pub fn host(&self, name: &str) -> Option<&HostDensity> {
        self.hosts.iter().find(|h| h.host == name)
    }

    /// `3 hosts, 2 in use, 5 containers placed`, then the count not placed (when any) as
    /// `not_placed` words it: the line the table and HTML views open a density with.
    pub fn summary(&self, not_placed: impl Fn(usize) -> String) -> String {
        let mut line = format!(
            "{} hosts, {} in use, {} containers placed",
            self.hosts.len(),
            self.hosts_used,
            self.placed
        );
        if !self.unplaced.is_empty() {
            line.push_str(&not_placed(self.unplaced.len()));
        }
        line
    }
}

/// Computes density from a placement. `usage` holds what nodes reported in use, per host.
pub fn density(
    fleet: &Fleet,
    limits: &BTreeMap<String, HostLimits>,
    assignment: &Assignment,
    unplaced: &[Unplaced],
    usage: &BTreeMap<String, Amounts>,
) -> Density {
    let mut allocated: BTreeMap<&str, (Amounts, usize)> = BTreeMap::new();
    let mut groups: BTreeMap<&str, BTreeMap<&str, Amounts>> = BTreeMap::new();
    for (name, b) in &assignment.bindings {
        let e = allocated.entry(b.host.as_str()).or_default();
        e.0 = e.0.plus(&b.demand);
        e.1 += 1;
        let group = fleet
            .container(name)
            .and_then(|c| c.placement.group.as_deref())
            .unwrap_or(name);
        let g = groups
            .entry(b.host.as_str())
            .or_default()
            .entry(group)
            .or_default();
        *g = g.plus(&b.demand);
    }
    let mut totals = Resource::ALL.map(|r| Line::new(r, 0, 0, 0));
    let hosts: Vec<HostDensity> = fleet
        .hosts
        .iter()
        .map(|h| {
            let l = limits.get(&h.name);
            let cap = l.and_then(|l| l.capacity).unwrap_or_default();
            let alloc = l.and_then(|l| l.allocatable).unwrap_or_default();
            let (sum, count) = allocated.get(h.name.as_str()).copied().unwrap_or_default();
            let used = usage.get(&h.name);
            let lines = Resource::ALL.map(|r| Line {
                used: used.map(|u| u.get(r)),
                ..Line::new(r, cap.get(r), alloc.get(r), sum.get(r))
            });
            let capacity_known = l.is_some_and(|l| l.allocatable.is_some());
            // Totals are over the hosts whose capacity is known: what sits on a host of unknown
            // size would read as a share of nothing.
            if capacity_known {
                for (t, line) in totals.iter_mut().zip(&lines) {
                    t.add(line);
                }
            }
            HostDensity {
                host: h.name.clone(),
                labels: h.labels.clone(),
                containers: count,
                capacity_known,
                observed_fields: l.map(|l| l.observed_fields.clone()).unwrap_or_default(),
                usage_observed: used.is_some(),
                by_group: by_group(groups.get(h.name.as_str()), &alloc),
                lines,
            }
        })
        .collect();
    Density {
        fleet: fleet.name.clone(),
        hosts,
        totals,
        hosts_used: assignment.hosts_used(),
        placed: assignment.bindings.len(),
        unplaced: unplaced.to_vec(),
        warnings: assignment.warnings.clone(),
    }
}

fn by_group(groups: Option<&BTreeMap<&str, Amounts>>, alloc: &Amounts) -> Vec<(String, Amounts)> {
    let share = |a: &Amounts| {
        Resource::ALL
            .iter()
            .map(|r| a.get(*r) as f64 / alloc.get(*r).max(1) as f64)
            .fold(0.0, f64::max)
    };
    let mut list: Vec<(String, Amounts)> = groups
        .into_iter()
        .flatten()
        .map(|(g, a)| (g.to_string(), *a))
        .collect();
    list.sort_by(|a, b| share(&b.1).total_cmp(&share(&a.1)).then(a.0.cmp(&b.0)));
    list
}

/// Everything `fleet capacity` reports in one run; the renderers show the parts present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Density of the fleet as specified.
    pub density: Density,
    /// Where each container is placed.
    pub placement: Assignment,
    /// `--fit`: how many more of a shape fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitReport>,
    /// `--drain`: where a host's containers would go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainReport>,
    /// `--what-if`: the changed fleet's placement and density.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
    /// `--hosts-needed`: hosts of one shape the spec needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_needed: Option<HostsNeeded>,
}

/// What a fleet is placed and measured against besides its spec: what the nodes reported (all
/// empty without `--observe`, leaving the spec's figures alone) and the placement's knobs.
#[derive(Debug, Clone, Default)]
pub struct Basis {
    /// Capacity per reachable host, for the fields a host's spec leaves out.
    pub capacity: BTreeMap<String, Capacity>,
    /// Where containers run now; placement keeps them there.
    pub current: Current,
    /// In use per host, where nodes report it.
    pub usage: BTreeMap<String, Amounts>,
    /// Knobs of the placement.
    pub options: Options,
}

/// Places `fleet` and reports its density; containers that cannot be placed are listed rather
/// than failing the report, since a report about an overfull fleet is what a planner needs.
pub fn assess(fleet: &Fleet, basis: &Basis) -> (Assignment, Density) {
    let limits = all_limits(&fleet.hosts, &basis.capacity);
    let (assignment, unplaced) =
        match crate::schedule::place_with(fleet, &basis.capacity, &basis.current, &basis.options) {
            Ok(a) => (a, Vec::new()),
            Err(e) => (e.partial, e.unplaced),
        };
    let d = density(fleet, &limits, &assignment, &unplaced, &basis.usage);
    (assignment, d)
}
