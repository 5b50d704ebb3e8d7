//! Host-by-host packing of containers without spread constraints: take one host, keep adding
//! the container whose shape best matches what the host has left, move on when nothing fits.
//!
//! Filling one host at a time mixes shapes (a memory-heavy container next to cpu-heavy ones)
//! where largest-first container-by-container packing stacks alike shapes together and strands
//! the other resource; the benchmark in docs/placement.md shows the difference.
//!
//! Neighbours: called by `packer` after pinned, kept and spread containers are bound; shares
//! its `State`.

use std::collections::BTreeMap;

use super::Current;
use super::resources::{Amounts, Resource};
use super::state::{State, origin};
use crate::model::DesiredContainer;

/// How many fitting classes, largest first, are weighed for each pick. Bounds the cost when
/// every container has a shape of its own (10,000 distinct shapes); with profiles there are
/// far fewer classes than this and every one is weighed.
const WINDOW: usize = 64;

/// Containers that are interchangeable for placement: same demand, same selector. Within a
/// class they go in name order, so the result does not depend on input order.
struct Class<'a> {
    demand: Amounts,
    /// Per host: whether the selector admits it.
    admits: Vec<bool>,
    /// Members still to place, name order, next at `next`.
    members: Vec<&'a DesiredContainer>,
    next: usize,
}

/// Places `items` host by host; returns those no host could take.
pub(super) fn fill<'a>(
    st: &mut State<'a>,
    items: Vec<(&'a DesiredContainer, Amounts)>,
    current: &Current,
) -> Vec<(&'a DesiredContainer, Amounts)> {
    let mut classes = classes(st, items);
    // Classes with members left, largest first; shrinks as classes run out.
    let mut remaining: Vec<usize> = (0..classes.len()).collect();
    for h in host_order(st) {
        let Some(alloc) = st.slots[h].allocatable else {
            continue;
        };
        let candidates: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&k| classes[k].admits[h])
            .collect();
        // A class that does not fit now never will on this host (it only fills up): it is
        // marked out for the rest of this host, and leading ones are skipped for good.
        let mut out = vec![false; candidates.len()];
        let mut start = 0;
        loop {
            let free = alloc.minus(&st.slots[h].used);
            let mut best: Option<(f64, usize)> = None;
            let mut seen = 0;
            let mut j = start;
            while j < candidates.len() && seen < WINDOW {
                if !out[j] {
                    let class = &classes[candidates[j]];
                    if class.next == class.members.len() || !class.demand.fits_within(&free) {
                        out[j] = true;
                    } else {
                        seen += 1;
                        let score = alignment(&class.demand, &free, &alloc);
                        if best.is_none_or(|(b, _)| score > b) {
                            best = Some((score, candidates[j]));
                        }
                    }
                }
                j += 1;
            }
            while start < candidates.len() && out[start] {
                start += 1;
            }
            let Some((_, k)) = best else {
                break;
            };
            let class = &mut classes[k];
            let c = class.members[class.next];
            class.next += 1;
            let d = class.demand;
            st.bind(c, h, d, origin(current, c, st.slots[h].host));
        }
        remaining.retain(|&k| classes[k].next < classes[k].members.len());
    }
    let mut left: Vec<_> = classes
        .into_iter()
        .flat_map(|class| {
            let d = class.demand;
            class.members[class.next..]
                .iter()
                .map(move |c| (*c, d))
                .collect::<Vec<_>>()
        })
        .collect();
    left.sort_by(|a, b| a.0.spec.name.cmp(&b.0.spec.name));
    left
}

/// Demand and selector (as sorted label pairs).
type ClassKey<'a> = (Amounts, Vec<(&'a str, &'a str)>);

fn classes<'a>(st: &mut State<'a>, items: Vec<(&'a DesiredContainer, Amounts)>) -> Vec<Class<'a>> {
    let mut by_key: BTreeMap<ClassKey<'a>, Vec<&'a DesiredContainer>> = BTreeMap::new();
    for (c, d) in items {
        let selector = c
            .placement
            .selector
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        by_key.entry((d, selector)).or_default().push(c);
    }
    let n = st.slots.len();
    let mean = st.mean_allocatable();
    let size = |d: &Amounts| -> f64 {
        Resource::ALL
            .iter()
            .map(|r| d.get(*r) as f64 / mean[r.index()])
            .sum()
    };
    let mut list: Vec<Class<'a>> = by_key
        .into_iter()
        .map(|((demand, _), mut members)| {
            members.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
            let mut admits = vec![false; n];
            for i in st.eligible(&members[0].placement.selector) {
                admits[i] = true;
            }
            Class {
                demand,
                admits,
                members,
                next: 0,
            }
        })
        .collect();
    // Largest first (the window looks at the front); the sort is stable, so equal sizes keep
    // key order and the result stays deterministic.
    list.sort_by(|a, b| size(&b.demand).total_cmp(&size(&a.demand)));
    list
}

/// Hosts already holding containers first (fill what is in use before opening a host), then
/// empty ones largest first; name order breaks ties.
fn host_order(st: &State) -> Vec<usize> {
    let mut order: Vec<usize> = (0..st.slots.len())
        .filter(|&i| st.slots[i].schedulable && st.slots[i].allocatable.is_some())
        .collect();
    let size = |i: usize| {
        let a = st.slots[i].allocatable.unwrap_or_default();
        (a.cpu, a.memory, a.disk)
    };
    order.sort_by(|&a, &b| {
        let (ea, eb) = (st.slots[a].count == 0, st.slots[b].count == 0);
        ea.cmp(&eb).then(size(b).cmp(&size(a))).then(a.cmp(&b))
    });
    order
}

/// Dot product of the container's demand with what the host has left, both as shares of the
/// host: large when the container is big where the host is empty.
fn alignment(d: &Amounts, free: &Amounts, alloc: &Amounts) -> f64 {
    Resource::ALL
        .iter()
        .filter(|r| alloc.get(**r) > 0)
        .map(|r| {
            let a = alloc.get(*r) as f64;
            (d.get(*r) as f64 / a) * (free.get(*r) as f64 / a)
        })
        .sum()
}
