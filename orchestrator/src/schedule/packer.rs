//! The placement loop: pinned containers, then running ones that may stay, then the rest in a
//! deterministic order, each onto the best host that passes every constraint.
//!
//! Neighbours: `hosts` gives each slot its limits, `resources` each container its demand,
//! `choose` picks the host of a container placed on its own, `fill` packs the rest host by
//! host, `explain` says why a container found no host, `state` holds the slots and bindings.
//! `mod.rs` wraps the result.

use std::collections::BTreeMap;

use fleet_protocol::Capacity;

use super::resources::{Amounts, Resource, demand};
use super::state::{Slot, State, matches, mean_allocatable, origin};
use super::{Assignment, Current, Options, Origin, Strategy, Unplaced};
use super::{choose, explain, fill};
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
        let selector = &c.placement.selector;
        let choice = match options.strategy {
            Strategy::Pack => choose::packed(&mut st, c, &d),
            Strategy::FirstFit => {
                let eligible = st.eligible(selector);
                choose::scan(&mut st, c, &d, &eligible, Strategy::FirstFit)
            }
        };
        // Test builds hold the indexed choice to the scan of every eligible host.
        #[cfg(test)]
        if options.strategy == Strategy::Pack {
            let eligible = st.eligible(selector);
            let scanned = choose::scan(&mut st, c, &d, &eligible, Strategy::Pack);
            assert_eq!(
                choice, scanned,
                "packed and scanned choices differ for {}",
                c.spec.name
            );
        }
        match choice {
            Some((i, warning)) => {
                st.assignment.warnings.extend(warning);
                st.bind(c, i, d, origin(current, c, st.slots[i].host));
            }
            None => {
                let eligible = st.eligible(selector);
                unplaced.push(Unplaced {
                    container: c.spec.name.clone(),
                    reason: explain::why(c, &d, &st.slots, &eligible),
                });
            }
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
