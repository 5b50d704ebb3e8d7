//! The placement loop: pinned containers, then running ones that may stay, then the rest in a
//! deterministic order, each onto the best host that passes every constraint.
//!
//! Neighbours: `hosts` gives each slot its limits, `resources` each container its demand,
//! `explain` says why a container found no host, `state` holds the slots and bindings. `mod.rs` wraps the result.

use std::collections::BTreeMap;

use fleet_protocol::Capacity;

use super::resources::{Amounts, Resource, demand};
use super::state::{Slot, State, group_of, matches, mean_allocatable, origin};
use super::{Assignment, Current, Options, Origin, Strategy, Unplaced};
use super::{explain, fill};
use crate::model::{DesiredContainer, Fleet};

pub(super) fn run(
    fleet: &Fleet,
    observed: &BTreeMap<String, Capacity>,
    current: &Current,
    options: &Options,
) -> (Assignment, Vec<Unplaced>) {
    let mut st = State::new(fleet, observed, options);
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
