//! The scheduler's working state, shared by the packer (`packer.rs`), the bin filler
//! (`fill.rs`) and the explanations of infeasibility (`explain.rs`): one slot per host, the spread
//! bookkeeping, and the bindings made so far. Pure data and small queries; the placement rules
//! are in the modules that read it.

use std::collections::{BTreeMap, HashMap};

use fleet_protocol::Capacity;

use super::hosts::host_limits;
use super::resources::{Amounts, Resource};
use super::{Assignment, Binding, Current, Options, Origin};
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
    pub fn counts_for(
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

/// Placement in progress: every host's slot, the spread bookkeeping, and the bindings so far.
pub(super) struct State<'a> {
    pub slots: Vec<Slot<'a>>,
    /// Host name to its slot.
    pub index: HashMap<&'a str, usize>,
    pub spread: Spread<'a>,
    eligible: HashMap<&'a BTreeMap<String, String>, Vec<usize>>,
    pub assignment: Assignment,
}

impl<'a> State<'a> {
    /// Empty slots for every host of `fleet`, with the capacities `observed` reports (the
    /// spec's elsewhere); cordoned hosts take nothing new.
    pub fn new(fleet: &'a Fleet, observed: &BTreeMap<String, Capacity>, options: &Options) -> Self {
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
        State {
            slots,
            index,
            spread: Spread::default(),
            eligible: HashMap::new(),
            assignment: Assignment::default(),
        }
    }

    /// The mean allocatable amount of each resource over the hosts of known capacity (1 where
    /// none is known), the yardstick that makes shares of different resources comparable.
    pub fn mean_allocatable(&self) -> [f64; 3] {
        mean_allocatable(&self.slots)
    }

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

/// `New`, or `Moved` when the container ran on another host.
pub(super) fn origin(current: &Current, c: &DesiredContainer, host: &Host) -> Origin {
    match current.get(&c.spec.name) {
        Some(from) if *from != host.name => Origin::Moved { from: from.clone() },
        _ => Origin::New,
    }
}

/// The mean allocatable amount of each resource over `slots` of known capacity (1 where none
/// is known).
pub(super) fn mean_allocatable(slots: &[Slot]) -> [f64; 3] {
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
