//! The scheduler's working state, shared by the packer (`packer.rs`), the bin filler
//! (`fill.rs`) and the explanations of infeasibility (`explain.rs`): one slot per host, the spread
//! bookkeeping, and the bindings made so far. Pure data and small queries; the placement rules
//! are in the modules that read it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    counts: HashMap<(&'a str, &'a str), Held>,
}

/// How many members of one group each value of one spread key holds.
#[derive(Clone)]
pub(super) struct Held {
    /// Members per value id.
    pub per_value: Vec<u32>,
    /// The value ids holding at least one member, in the order they first did.
    pub values: Vec<usize>,
}

impl<'a> Spread<'a> {
    /// Each host's value of `key` as a small integer (`None`: the host lacks the label), and how
    /// many values there are; worked out once per key.
    pub fn value_ids(&mut self, key: &'a str, slots: &[Slot<'a>]) -> &(Vec<Option<usize>>, usize) {
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
            .get(&(group, key))
            .map_or_else(|| vec![0; n], |held| held.per_value.clone());
        (ids, counts)
    }

    /// The value ids of `key` once [`Spread::value_ids`] has worked them out.
    pub fn ids(&self, key: &str) -> &[Option<usize>] {
        &self.values[key].0
    }

    /// Where the members of `group` are by the values of `key`; `None` while it has none.
    pub fn held(&self, group: &'a str, key: &'a str) -> Option<&Held> {
        self.counts.get(&(group, key))
    }

    fn record(&mut self, group: &'a str, key: &'a str, slot: usize, slots: &[Slot<'a>]) {
        let (ids, n) = self.value_ids(key, slots);
        let (id, n) = (ids[slot], *n);
        if let Some(id) = id {
            let held = self.counts.entry((group, key)).or_insert_with(|| Held {
                per_value: vec![0; n],
                values: Vec::new(),
            });
            if held.per_value[id] == 0 {
                held.values.push(id);
            }
            held.per_value[id] += 1;
        }
    }
}

/// The value ids of one spread key among one selector's hosts: listed, and as a mask.
pub(super) type ValuesIn = (Vec<usize>, Vec<bool>);

/// Placement in progress: every host's slot, the spread bookkeeping, and the bindings so far.
pub(super) struct State<'a> {
    pub slots: Vec<Slot<'a>>,
    /// Host name to its slot.
    pub index: HashMap<&'a str, usize>,
    pub spread: Spread<'a>,
    eligible: HashMap<&'a BTreeMap<String, String>, Vec<usize>>,
    /// Per (selector, spread key): the value ids the selector's hosts have (listed, and as a
    /// mask over the value ids).
    values_in: HashMap<(&'a BTreeMap<String, String>, &'a str), ValuesIn>,
    /// Hosts holding at least one container.
    pub busy: BTreeSet<usize>,
    /// Schedulable hosts of known capacity that hold nothing, by capacity and labels: within a
    /// class they differ only by index, so the first stands for all when choosing.
    pub idle: BTreeMap<(Amounts, &'a BTreeMap<String, String>), BTreeSet<usize>>,
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
        let mut idle: BTreeMap<_, BTreeSet<usize>> = BTreeMap::new();
        for (i, s) in slots.iter().enumerate() {
            if let (true, Some(alloc)) = (s.schedulable, s.allocatable) {
                idle.entry((alloc, &s.host.labels)).or_default().insert(i);
            }
        }
        State {
            slots,
            index,
            spread: Spread::default(),
            eligible: HashMap::new(),
            values_in: HashMap::new(),
            busy: BTreeSet::new(),
            idle,
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

    /// The value ids of `key` that the hosts `selector` admits have (listed, and as a mask over
    /// the value ids), worked out once per pair.
    pub fn values_in(&mut self, selector: &'a BTreeMap<String, String>, key: &'a str) -> &ValuesIn {
        let (ids, n) = self.spread.value_ids(key, &self.slots);
        let slots = &self.slots;
        self.values_in.entry((selector, key)).or_insert_with(|| {
            let mut mask = vec![false; *n];
            let mut list = Vec::new();
            for (s, id) in slots.iter().zip(ids) {
                if let Some(id) = *id
                    && s.schedulable
                    && matches(s.host, selector)
                    && !mask[id]
                {
                    mask[id] = true;
                    list.push(id);
                }
            }
            (list, mask)
        })
    }

    /// What [`State::values_in`] worked out for the pair.
    pub fn values_in_cached(
        &self,
        selector: &'a BTreeMap<String, String>,
        key: &'a str,
    ) -> &ValuesIn {
        &self.values_in[&(selector, key)]
    }

    pub fn bind(&mut self, c: &'a DesiredContainer, slot: usize, d: Amounts, origin: Origin) {
        let s = &mut self.slots[slot];
        if s.count == 0 {
            self.busy.insert(slot);
            if let (true, Some(alloc)) = (s.schedulable, s.allocatable) {
                let class = (alloc, &s.host.labels);
                if let Some(hosts) = self.idle.get_mut(&class) {
                    hosts.remove(&slot);
                    if hosts.is_empty() {
                        self.idle.remove(&class);
                    }
                }
            }
        }
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
