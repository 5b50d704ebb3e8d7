//! Plans that move on request rather than from a spec change: `fleet drain HOST` (every
//! container of this fleet on HOST goes elsewhere, as `fleet capacity --drain` would place it)
//! and `fleet move NAME --to HOST`. Pure: observed state in, a [`Plan`] of moves out, which
//! `fleet apply`'s execution then carries out over the same sessions.
//!
//! A container the spec pins to the host it would leave is refused, not moved: the next apply of
//! the unchanged spec would move it straight back. The same holds for `fleet move` to a host the
//! spec's selector does not allow. Nothing but the moves asked for is in the plan (drift and
//! other changes wait for `fleet apply`).

use std::collections::BTreeSet;

use crate::diff::{self, Diff, DiffOptions, Observed, Refusal};
use crate::model::Fleet;
use crate::plan::{self, Plan};
use crate::schedule::{self, Options};

/// Why a drain or a move cannot be planned at all.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The fleet has no such host.
    #[error("the fleet has no host {host:?} (hosts: {known})")]
    UnknownHost {
        /// The host asked for.
        host: String,
        /// The fleet's hosts, comma-separated.
        known: String,
    },
    /// The spec has no such container.
    #[error("the spec has no container {name:?}{hint}")]
    UnknownContainer {
        /// The name asked for.
        name: String,
        /// `; did you mean "web-01"?` or nothing.
        hint: String,
    },
    /// The plan itself failed (a dependency cycle).
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
}

fn check_host(fleet: &Fleet, host: &str) -> Result<(), TargetError> {
    if fleet.host(host).is_some() {
        return Ok(());
    }
    Err(TargetError::UnknownHost {
        host: host.to_owned(),
        known: fleet
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The moves that empty `host` of this fleet's containers: the others are placed as the
/// scheduler would with `host` cordoned, everything else staying where it runs.
pub fn drain(fleet: &Fleet, observed: &Observed, host: &str) -> Result<Plan, TargetError> {
    check_host(fleet, host)?;
    let options = Options {
        cordoned: BTreeSet::from([host.to_owned()]),
        ..Options::default()
    };
    let on_host: BTreeSet<String> = observed
        .current(&fleet.name)
        .into_iter()
        .filter(|(_, h)| h == host)
        .map(|(name, _)| name)
        .collect();
    let mut refused = Vec::new();
    let mut free = fleet.clone();
    for c in &free.containers {
        if on_host.contains(&c.spec.name) && c.host.as_deref() == Some(host) {
            refused.push(Refusal {
                name: c.spec.name.clone(),
                host: host.to_owned(),
                reason: format!(
                    "the spec pins it to {host} (host: {host}); change its host there to move \
                     it, or the next apply would move it back"
                ),
            });
        }
    }
    let kept: BTreeSet<&str> = refused.iter().map(|r| r.name.as_str()).collect();
    free.containers
        .retain(|c| !kept.contains(c.spec.name.as_str()));
    only_moves(
        &free,
        observed,
        &options,
        |name, from| from == host && on_host.contains(name),
        refused,
    )
}

/// The move of `name` to `to`.
pub fn move_one(
    fleet: &Fleet,
    observed: &Observed,
    name: &str,
    to: &str,
) -> Result<Plan, TargetError> {
    check_host(fleet, to)?;
    let Some(desired) = fleet.container(name) else {
        let names: Vec<&str> = fleet
            .containers
            .iter()
            .map(|c| c.spec.name.as_str())
            .collect();
        let hint = crate::spec::suggest::closest(name, names.iter().copied())
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default();
        return Err(TargetError::UnknownContainer {
            name: name.to_owned(),
            hint,
        });
    };
    let mut refused = Vec::new();
    if let Some(pin) = desired.host.as_deref().filter(|p| *p != to) {
        refused.push(Refusal {
            name: name.to_owned(),
            host: to.to_owned(),
            reason: format!(
                "the spec pins it to {pin} (host: {pin}); change its host there to move it, or \
                 the next apply would move it back"
            ),
        });
        let plan = plan::plan(
            fleet,
            Diff {
                fleet: fleet.name.clone(),
                refused,
                ..Diff::default()
            },
        )?;
        return Ok(plan);
    }
    let mut pinned = fleet.clone();
    if let Some(c) = pinned.containers.iter_mut().find(|c| c.spec.name == name) {
        c.host = Some(to.to_owned());
    }
    only_moves(
        &pinned,
        observed,
        &Options::default(),
        |n, _| n == name,
        refused,
    )
}

/// Places `fleet`, diffs, and keeps only the moves `wanted(name, from)` accepts (and the
/// refusals of those containers), then plans them.
fn only_moves(
    fleet: &Fleet,
    observed: &Observed,
    options: &Options,
    wanted: impl Fn(&str, &str) -> bool,
    mut refused: Vec<Refusal>,
) -> Result<Plan, TargetError> {
    let capacities = observed.capacities();
    let current = observed.current(&fleet.name);
    let (assignment, unplaced) = match schedule::place_with(fleet, &capacities, &current, options) {
        Ok(a) => (a, Vec::new()),
        Err(infeasible) => (infeasible.partial, infeasible.unplaced),
    };
    let full = diff::diff(
        fleet,
        &assignment.as_current(),
        &unplaced,
        observed,
        DiffOptions::default(),
    );
    let from_of = |name: &str| current.get(name).cloned().unwrap_or_default();
    let moves: Vec<_> = full
        .moves
        .into_iter()
        .filter(|c| wanted(&c.name, c.from.as_deref().unwrap_or_default()))
        .collect();
    refused.extend(
        full.refused
            .into_iter()
            .filter(|r| wanted(&r.name, &from_of(&r.name))),
    );
    let skipped = full
        .skipped
        .into_iter()
        .filter(|r| wanted(&r.name, &from_of(&r.name)))
        .collect();
    let d = Diff {
        fleet: fleet.name.clone(),
        moves,
        refused,
        skipped,
        unreachable: full.unreachable,
        ..Diff::default()
    };
    Ok(plan::plan(fleet, d)?)
}
