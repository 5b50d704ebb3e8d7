//! Placement: binds every desired container to a host.
//!
//! Sits between `resolve` (which produces the [`Fleet`]) and `diff`/`plan` (which compare the
//! bound containers with what runs). Pure functions: the inputs are the fleet, the capacity the
//! nodes reported (for hosts whose spec leaves capacity out) and where containers run now; the
//! output is an [`Assignment`] or an [`Infeasible`] error naming each container that cannot be
//! placed and the constraint that stops it. `capacity` (density reports) builds on the same
//! accounting. The algorithm and its guarantees are described in `docs/placement.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use fleet_protocol::Capacity;
use serde::Serialize;

use crate::model::Fleet;

mod choose;
mod explain;
mod fill;
pub mod hosts;
pub mod hosts_needed;
mod packer;
pub mod resources;
mod state;
pub mod validate;

pub use hosts::{HostLimits, all_limits, host_limits};
pub use hosts_needed::{HostShape, HostsNeeded, hosts_needed};
pub use resources::{Amounts, DemandDefaults, Resource, demand, demand_of};
pub use validate::{Finding, Subject, validate};

/// Where each container runs now (container name to host name), as observed. Containers listed
/// here stay where they are while they still fit there.
pub type Current = BTreeMap<String, String>;

/// Why a container is on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// The spec names the host.
    Pinned,
    /// It runs there already and still fits.
    Kept,
    /// Placed now; it runs nowhere yet.
    New,
    /// It ran on another host where it no longer fits or is no longer allowed.
    Moved {
        /// The host it ran on.
        from: String,
    },
}

/// One container bound to a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// Host name.
    pub host: String,
    /// Why it is there.
    pub origin: Origin,
    /// What it was accounted for (see [`demand`]).
    pub demand: Amounts,
}

/// The result of placement: every placed container with its host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Assignment {
    /// Container name to its binding, sorted by container name.
    pub bindings: BTreeMap<String, Binding>,
    /// Soft constraints that could not be met (an uneven spread), one sentence each.
    pub warnings: Vec<String>,
}

impl Assignment {
    /// The host a container is bound to.
    pub fn host_of(&self, container: &str) -> Option<&str> {
        self.bindings.get(container).map(|b| b.host.as_str())
    }

    /// Containers bound to one host, by name.
    pub fn on_host<'a>(&'a self, host: &'a str) -> impl Iterator<Item = (&'a str, &'a Binding)> {
        self.bindings
            .iter()
            .filter(move |(_, b)| b.host == host)
            .map(|(n, b)| (n.as_str(), b))
    }

    /// Number of distinct hosts holding at least one container.
    pub fn hosts_used(&self) -> usize {
        self.bindings
            .values()
            .map(|b| b.host.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Container name to host name, the shape [`Current`] takes.
    pub fn as_current(&self) -> Current {
        self.bindings
            .iter()
            .map(|(n, b)| (n.clone(), b.host.clone()))
            .collect()
    }
}

/// A container that could not be placed and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplaced {
    /// Container name.
    pub container: String,
    /// The constraint that stops it, as a sentence (`memory on every host with zone=a is full`).
    pub reason: String,
}

/// Placement failed for some containers; the others are in `partial`.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
pub struct Infeasible {
    /// Each container that cannot be placed, sorted by name.
    pub unplaced: Vec<Unplaced>,
    /// The containers that could be placed.
    pub partial: Assignment,
}

impl fmt::Display for Infeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.unplaced.len();
        write!(
            f,
            "{n} container{} cannot be placed:",
            if n == 1 { "" } else { "s" }
        )?;
        for u in &self.unplaced {
            write!(f, "\n  {}: {}", u.container, u.reason)?;
        }
        Ok(())
    }
}

/// How new containers are packed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Largest first onto the host left fullest (best fit), preferring hosts already in use.
    #[default]
    Pack,
    /// In name order onto the first host (by name) with room: the baseline benchmarks compare
    /// against.
    FirstFit,
}

/// Knobs of [`place_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// Demand assumed for unlimited containers.
    pub defaults: DemandDefaults,
    /// Hosts that take no container (a drain); containers pinned to them cannot be placed.
    pub cordoned: BTreeSet<String>,
    /// Packing heuristic for containers not pinned and not kept.
    pub strategy: Strategy,
}

/// Places every container of `fleet` with the default [`Options`].
///
/// `observed` holds the capacity nodes reported, used for fields a host's spec leaves out;
/// `current` holds where containers run now.
pub fn place(
    fleet: &Fleet,
    observed: &BTreeMap<String, Capacity>,
    current: &Current,
) -> Result<Assignment, Infeasible> {
    place_with(fleet, observed, current, &Options::default())
}

/// Places every container of `fleet`: pinned ones on their host, running ones where they run
/// while they still fit and are allowed there, the rest by `options.strategy`.
pub fn place_with(
    fleet: &Fleet,
    observed: &BTreeMap<String, Capacity>,
    current: &Current,
    options: &Options,
) -> Result<Assignment, Infeasible> {
    let (assignment, mut unplaced) = packer::run(fleet, observed, current, options);
    if unplaced.is_empty() {
        Ok(assignment)
    } else {
        unplaced.sort_by(|a, b| a.container.cmp(&b.container));
        Err(Infeasible {
            unplaced,
            partial: assignment,
        })
    }
}

/// Describes a label selector for messages: `every host` or `every host with zone=a,tier=db`.
pub(crate) fn host_set(selector: &BTreeMap<String, String>) -> String {
    if selector.is_empty() {
        "every host".into()
    } else {
        format!("every host with {}", selector_text(selector))
    }
}

/// `zone=a,tier=db`.
pub(crate) fn selector_text(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
