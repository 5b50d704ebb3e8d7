//! The placement loop: pinned containers, then running ones that may stay, then the rest in a
//! deterministic order, each onto the best host that passes every constraint.
//!
//! Neighbours: `hosts` gives each slot its limits, `resources` each container its demand,
//! `explain` says why a container found no host. `mod.rs` wraps the result.

use std::collections::{BTreeMap, HashMap};

use fleet_protocol::Capacity;

use super::hosts::host_limits;
use super::resources::{Amounts, Resource, demand};
use super::{Assignment, Binding, Current, Options, Origin, Strategy, Unplaced};
use super::{explain, fill};
use crate::model::{DesiredContainer, Fleet, Host};

/// One host while placement fills it.
pub(super) struct Slot<'a> {
    pub host: &'a Host,
    pub allocatable: Option<Amounts>,
    pub used: Amounts,
    pub count: u32,
    pub schedulable: bool,
}

impl Slot<'_> {
    /// Whether `d` fits in what is left; a host of unknown capacity takes nothing.
    pub fn fits(&self, d: &Amounts) -> bool {
        self.allocatable
            .is_some_and(|a| self.used.plus(d).fits_within(&a))
    }

    /// What is left.
    pub fn free(&self) -> Option<Amounts> {
        self.allocatable.map(|a| a.minus(&self.used))
    }
}

/// Spread bookkeeping: for each spread key, each host's value as a small integer, and for each
/// (group, key) how many members each value holds.
#[derive(Default)]
pub(super) struct Spread<'a> {
    values: HashMap<&'a str, (Vec<Option<usize>>, usize)>,
    counts: HashMap<(&'a str, &'a str), Vec<u32>>,
}

impl<'a> Spread<'a> {
    fn value_ids(&mut self, key: &'a str, slots: &[Slot<'a>]) -> &(Vec<Option<usize>>, usize) {
        self.values.entry(key).or_insert_with(|| {
            let mut names: BTreeMap<&str, usize> = BTreeMap::new();
            let ids = slots
                .iter()
                .map(|s| {
                    let v = if key == "host" {
                        Some(s.host.name.as_str())
                    } else {
                        s.host.labels.get(key).map(String::as_str)
                    }?;
                    let next = names.len();
                    Some(*names.entry(v).or_insert(next))
                })
                .collect();
            (ids, names.len())
        })
    }

    /// Per-host count of the group's members on the host's value (`None`: host lacks the label).
    fn counts_for(
        &mut self,
        group: &'a str,
        key: &'a str,
        slots: &[Slot<'a>],
    ) -> (Vec<Option<usize>>, Vec<u32>) {
        let (ids, n) = self.value_ids(key, slots).clone();
        let counts = self
            .counts
            .entry((group, key))
            .or_insert_with(|| vec![0; n])
            .clone();
        (ids, counts)
    }

    fn record(&mut self, group: &'a str, key: &'a str, slot: usize, slots: &[Slot<'a>]) {
        let (ids, n) = self.value_ids(key, slots);
        let (id, n) = (ids[slot], *n);
        if let Some(id) = id {
            self.counts
                .entry((group, key))
                .or_insert_with(|| vec![0; n])[id] += 1;
        }
    }
}

pub(super) struct State<'a> {
    pub slots: Vec<Slot<'a>>,
    index: HashMap<&'a str, usize>,
    spread: Spread<'a>,
    eligible: HashMap<&'a BTreeMap<String, String>, Vec<usize>>,
    assignment: Assignment,
}

impl<'a> State<'a> {
    pub fn eligible(&mut self, selector: &'a BTreeMap<String, String>) -> Vec<usize> {
        let slots = &self.slots;
        self.eligible
            .entry(selector)
            .or_insert_with(|| {
                (0..slots.len())
                    .filter(|&i| slots[i].schedulable && matches(slots[i].host, selector))
                    .collect()
            })
            .clone()
    }

    pub fn bind(&mut self, c: &'a DesiredContainer, slot: usize, d: Amounts, origin: Origin) {
        let s = &mut self.slots[slot];
        s.used = s.used.plus(&d);
        s.count += 1;
        if let Some(key) = c.placement.spread.as_deref() {
            self.spread.record(group_of(c), key, slot, &self.slots);
        }
        self.assignment.bindings.insert(
            c.spec.name.clone(),
            Binding {
                host: self.slots[slot].host.name.clone(),
                origin,
                demand: d,
            },
        );
    }
}

/// Whether every label of `selector` is on the host with the same value.
pub(super) fn matches(host: &Host, selector: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| host.labels.get(k) == Some(v))
}

/// The spread group of a container: its `group`, else itself alone.
pub(super) fn group_of(c: &DesiredContainer) -> &str {
    c.placement.group.as_deref().unwrap_or(&c.spec.name)
}

pub(super) fn run(
    fleet: &Fleet,
    observed: &BTreeMap<String, Capacity>,
    current: &Current,
    options: &Options,
) -> (Assignment, Vec<Unplaced>) {
    let slots: Vec<Slot> = fleet
        .hosts
        .iter()
        .map(|h| Slot {
            host: h,
            allocatable: host_limits(h, observed.get(&h.name)).allocatable,
            used: Amounts::default(),
            count: 0,
            schedulable: !options.cordoned.contains(&h.name),
        })
        .collect();
    let index = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.host.name.as_str(), i))
        .collect();
    let mut st = State {
        slots,
        index,
        spread: Spread::default(),
        eligible: HashMap::new(),
        assignment: Assignment::default(),
    };
    let mut unplaced = Vec::new();
    let demands: Vec<Amounts> = fleet
        .containers
        .iter()
        .map(|c| demand(c, &options.defaults))
        .collect();

    // Pinned first: the spec leaves them no choice, so they claim their room before anyone.
    for (c, d) in fleet.containers.iter().zip(&demands) {
        let Some(pin) = c.host.as_deref() else {
            continue;
        };
        match st.index.get(pin).copied() {
            None => unplaced.push(Unplaced {
                container: c.spec.name.clone(),
                reason: format!("pinned to host {pin}, which the fleet does not declare"),
            }),
            Some(i) if !st.slots[i].schedulable => unplaced.push(Unplaced {
                container: c.spec.name.clone(),
                reason: format!("pinned to host {pin}, which is cordoned (drained)"),
            }),
            Some(i) => {
                let s = &st.slots[i];
                if s.allocatable.is_some() && !s.fits(d) {
                    unplaced.push(Unplaced {
                        container: c.spec.name.clone(),
                        reason: explain::pinned_full(s, d),
                    });
                } else {
                    st.bind(c, i, *d, Origin::Pinned);
                }
            }
        }
    }

    // Running containers stay while they fit and are allowed: moving one means a restart.
    let mut rest = Vec::new();
    for (c, d) in fleet.containers.iter().zip(&demands) {
        if c.host.is_some() {
            continue;
        }
        let here = current
            .get(&c.spec.name)
            .and_then(|h| st.index.get(h.as_str()).copied());
        let stays = here.is_some_and(|i| {
            let s = &st.slots[i];
            let spread_ok = c
                .placement
                .spread
                .as_deref()
                .is_none_or(|key| key == "host" || s.host.labels.contains_key(key));
            s.schedulable
                && matches(s.host, &c.placement.selector)
                && spread_ok
                && (s.allocatable.is_none() || s.fits(d))
        });
        match here {
            Some(i) if stays => st.bind(c, i, *d, Origin::Kept),
            _ => rest.push((c, *d)),
        }
    }

    // Spread members go one at a time (each choice depends on where the group already is);
    // the rest are packed host by host, which mixes complementary shapes on each host.
    let (spread, plain): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(c, _)| c.placement.spread.is_some() || options.strategy == Strategy::FirstFit);
    let mut spread = spread;
    order(&mut spread, &st.slots, options.strategy);
    for (c, d) in spread {
        let eligible = st.eligible(&c.placement.selector);
        match choose(&mut st, c, &d, &eligible, options.strategy) {
            Some(i) => st.bind(c, i, d, origin(current, c, st.slots[i].host)),
            None => unplaced.push(Unplaced {
                container: c.spec.name.clone(),
                reason: explain::why(c, &d, &st.slots, &eligible),
            }),
        }
    }
    for (c, d) in fill::fill(&mut st, plain, current) {
        let eligible = st.eligible(&c.placement.selector);
        unplaced.push(Unplaced {
            container: c.spec.name.clone(),
            reason: explain::why(c, &d, &st.slots, &eligible),
        });
    }
    (st.assignment, unplaced)
}

/// `New`, or `Moved` when the container ran on another host.
pub(super) fn origin(current: &Current, c: &DesiredContainer, host: &Host) -> Origin {
    match current.get(&c.spec.name) {
        Some(from) if *from != host.name => Origin::Moved { from: from.clone() },
        _ => Origin::New,
    }
}

/// Sorts containers placed one at a time. Packing goes largest first, size being the sum of
/// the shares of an average host the container takes (the sum beat the largest single share
/// in the benchmarks); ties by name, so the order is total and the result deterministic.
fn order(rest: &mut [(&DesiredContainer, Amounts)], slots: &[Slot], strategy: Strategy) {
    match strategy {
        Strategy::FirstFit => rest.sort_by(|a, b| a.0.spec.name.cmp(&b.0.spec.name)),
        Strategy::Pack => {
            let mean = mean_allocatable(slots);
            let size = |d: &Amounts| {
                Resource::ALL
                    .iter()
                    .map(|r| d.get(*r) as f64 / mean[r.index()])
                    .sum::<f64>()
            };
            rest.sort_by(|a, b| {
                size(&b.1)
                    .total_cmp(&size(&a.1))
                    .then_with(|| a.0.spec.name.cmp(&b.0.spec.name))
            });
        }
    }
}

fn mean_allocatable(slots: &[Slot]) -> [f64; 3] {
    let known: Vec<Amounts> = slots.iter().filter_map(|s| s.allocatable).collect();
    Resource::ALL.map(|r| {
        let total: f64 = known.iter().map(|a| a.get(r) as f64).sum();
        if total > 0.0 {
            total / known.len() as f64
        } else {
            1.0
        }
    })
}

/// Picks a host for one container among `eligible` (selector already applied).
///
/// Preference, in order: the spread value holding fewest members of the container's group;
/// then (packing) a host already in use over an empty one; then the host left fullest (least
/// sum of squared free shares); then the host's name. First-fit keeps the spread rule and then
/// takes the first host by name.
fn choose<'a>(
    st: &mut State<'a>,
    c: &'a DesiredContainer,
    d: &Amounts,
    eligible: &[usize],
    strategy: Strategy,
) -> Option<usize> {
    let spread = c
        .placement
        .spread
        .as_deref()
        .map(|key| st.spread.counts_for(group_of(c), key, &st.slots));
    let mut best: Option<(u32, u8, f64, usize)> = None;
    let mut fewest_anywhere: Option<u32> = None;
    for &i in eligible {
        let s = &st.slots[i];
        let members = match &spread {
            Some((ids, counts)) => match ids[i] {
                Some(v) => counts[v],
                None => continue,
            },
            None => 0,
        };
        fewest_anywhere = Some(fewest_anywhere.map_or(members, |m| m.min(members)));
        let Some(alloc) = s.allocatable else {
            continue;
        };
        let after = s.used.plus(d);
        if !after.fits_within(&alloc) {
            continue;
        }
        let key = match strategy {
            Strategy::FirstFit => (members, 0, 0.0, i),
            Strategy::Pack => (members, u8::from(s.count == 0), leftover(&alloc, &after), i),
        };
        let better = best.is_none_or(|b| {
            (key.0, key.1)
                .cmp(&(b.0, b.1))
                .then(key.2.total_cmp(&b.2))
                .is_lt()
        });
        if better {
            best = Some(key);
            if strategy == Strategy::FirstFit && members == 0 {
                break;
            }
        }
    }
    let (members, _, _, i) = best?;
    if let (Some(key), Some(fewest)) = (c.placement.spread.as_deref(), fewest_anywhere)
        && members > fewest
    {
        let host = st.slots[i].host;
        let value = if key == "host" {
            host.name.as_str()
        } else {
            host.labels.get(key).map_or("", String::as_str)
        };
        st.assignment.warnings.push(format!(
            "{} goes to {} ({key}={value}), which already holds {members} of group {}: the {key} \
             values holding fewer ({fewest}) have no room",
            c.spec.name,
            host.name,
            group_of(c)
        ));
    }
    Some(i)
}

/// Sum of squared free shares after placing: small when the host is left full.
fn leftover(alloc: &Amounts, after: &Amounts) -> f64 {
    Resource::ALL
        .iter()
        .filter(|r| alloc.get(**r) > 0)
        .map(|r| {
            let free = (alloc.get(*r) - after.get(*r)) as f64 / alloc.get(*r) as f64;
            free * free
        })
        .sum()
}
