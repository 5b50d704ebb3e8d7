//! Why a container found no host, as one sentence naming the constraint that stops it.
//!
//! Neighbours: called by `packer` once a container has failed; reads the same slots.

use std::collections::BTreeMap;

use super::resources::{Amounts, Resource};
use super::state::{Slot, group_of};
use super::{host_set, selector_text};
use crate::model::DesiredContainer;

/// At most this many host names in one message.
const NAMES_SHOWN: usize = 4;

/// A pinned container does not fit on its host.
pub(super) fn pinned_full(slot: &Slot, d: &Amounts) -> String {
    let free = slot.free().unwrap_or_default();
    let r = d
        .first_excess(&free)
        .expect("called only when the demand exceeds what is free");
    format!(
        "pinned to host {}, but {r} there is full: needs {}, {} free of {}",
        slot.host.name,
        r.format(d.get(r)),
        r.format(free.get(r)),
        r.format(slot.allocatable.map_or(0, |a| a.get(r))),
    )
}

/// Why no host in `eligible` (the hosts matching the selector) takes the container.
pub(super) fn why(c: &DesiredContainer, d: &Amounts, slots: &[Slot], eligible: &[usize]) -> String {
    let selector = &c.placement.selector;
    let set = host_set(selector);
    if eligible.is_empty() {
        return no_match(selector, slots);
    }
    let mut candidates: Vec<&Slot> = eligible.iter().map(|&i| &slots[i]).collect();
    if let Some(key) = c.placement.spread.as_deref().filter(|k| *k != "host") {
        candidates.retain(|s| s.host.labels.contains_key(key));
        if candidates.is_empty() {
            return format!("spread over {key} needs the label {key}, which no host in {set} has");
        }
    }
    let known: Vec<&Slot> = candidates
        .iter()
        .copied()
        .filter(|s| s.allocatable.is_some())
        .collect();
    if known.is_empty() {
        return format!(
            "the capacity of {set} is unknown: declare it in the spec or let the node report it"
        );
    }
    for r in Resource::ALL {
        let largest = known
            .iter()
            .max_by_key(|s| s.allocatable.map_or(0, |a| a.get(r)))
            .expect("known is not empty");
        let most = largest.allocatable.map_or(0, |a| a.get(r));
        if d.get(r) > most {
            return format!(
                "needs {} {r}, more than any host in {set} can hold (largest: {} on {})",
                r.format(d.get(r)),
                r.format(most),
                largest.host.name
            );
        }
    }
    let mut full_by: BTreeMap<Resource, Vec<&Slot>> = BTreeMap::new();
    for s in &known {
        let free = s.free().unwrap_or_default();
        if let Some(r) = d.first_excess(&free) {
            full_by.entry(r).or_default().push(s);
        }
    }
    if full_by.len() == 1 && full_by.values().next().map(Vec::len) == Some(known.len()) {
        let (r, full) = full_by.iter().next().expect("one entry");
        let roomiest = full
            .iter()
            .max_by_key(|s| s.free().map_or(0, |f| f.get(*r)))
            .expect("not empty");
        return format!(
            "{r} on {set} is full: needs {}, the most free is {} on {}",
            r.format(d.get(*r)),
            r.format(roomiest.free().map_or(0, |f| f.get(*r))),
            roomiest.host.name
        );
    }
    if full_by.is_empty() {
        // Room exists but the spread rule rules those hosts out; cannot happen while spread is
        // soft, kept so a future hard rule still gets a message.
        return format!(
            "spread of group {} leaves no host in {set} with room",
            group_of(c)
        );
    }
    let parts: Vec<String> = full_by
        .iter()
        .map(|(r, hosts)| format!("{r} full on {}", names(hosts)))
        .collect();
    format!(
        "no host in {set} has room for {}: {}",
        d.describe(),
        parts.join("; ")
    )
}

fn no_match(selector: &BTreeMap<String, String>, slots: &[Slot]) -> String {
    if selector.is_empty() {
        return "no host takes containers (every host is cordoned or none is declared)".into();
    }
    let mut seen: Vec<String> = Vec::new();
    for key in selector.keys() {
        let mut values: Vec<&str> = slots
            .iter()
            .filter(|s| s.schedulable)
            .filter_map(|s| s.host.labels.get(key).map(String::as_str))
            .collect();
        values.sort_unstable();
        values.dedup();
        if values.is_empty() {
            seen.push(format!("no host has label {key}"));
        } else {
            seen.push(format!("{key} is one of {}", values.join(", ")));
        }
    }
    format!(
        "no schedulable host matches selector {} ({})",
        selector_text(selector),
        seen.join("; ")
    )
}

fn names(slots: &[&Slot]) -> String {
    let shown: Vec<&str> = slots
        .iter()
        .take(NAMES_SHOWN)
        .map(|s| s.host.name.as_str())
        .collect();
    let more = slots.len().saturating_sub(NAMES_SHOWN);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
