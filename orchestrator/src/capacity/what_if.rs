//! `--what-if FILE`: a changed fleet (hosts or containers added or removed) placed starting
//! from the current placement, showing what would move and the resulting density. Touches
//! nothing: both fleets are values.
//!
//! Neighbours: `schedule` for the placement, `Density` for the figures.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Basis, Density, assess};
use crate::model::Fleet;
use crate::schedule::Assignment;

/// A container that would change host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// Container name.
    pub container: String,
    /// Its host now.
    pub from: String,
    /// Its host in the changed fleet.
    pub to: String,
}

/// The answer to `--what-if`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// Hosts only in the changed fleet.
    pub hosts_added: Vec<String>,
    /// Hosts only in the current fleet.
    pub hosts_removed: Vec<String>,
    /// Containers only in the changed fleet, with the host each would get (`None`: no room).
    pub containers_added: Vec<(String, Option<String>)>,
    /// Containers only in the current fleet.
    pub containers_removed: Vec<String>,
    /// Containers in both that would change host.
    pub moved: Vec<Move>,
    /// Placement of the changed fleet.
    pub placement: Assignment,
    /// Density of the changed fleet.
    pub density: Density,
}

impl WhatIf {
    /// The lists of names a report shows, each with its label.
    pub fn name_lists(&self) -> [(&'static str, &[String]); 3] {
        [
            ("hosts added", &self.hosts_added),
            ("hosts removed", &self.hosts_removed),
            ("containers removed", &self.containers_removed),
        ]
    }

    /// Each added container with the host it would get, or why none.
    pub fn added(&self) -> impl Iterator<Item = (&str, &str)> {
        self.containers_added
            .iter()
            .map(|(c, to)| (c.as_str(), to.as_deref().unwrap_or("nowhere (no room)")))
    }
}

/// Places `after` starting from `before_placement` (the placement of the current fleet) and
/// compares.
pub fn what_if(
    before: &Fleet,
    before_placement: &Assignment,
    after: &Fleet,
    basis: &Basis,
) -> WhatIf {
    let from_before = Basis {
        current: before_placement.as_current(),
        ..basis.clone()
    };
    let (placement, density) = assess(after, &from_before);
    let names =
        |f: &Fleet| -> BTreeSet<String> { f.hosts.iter().map(|h| h.name.clone()).collect() };
    let cnames = |f: &Fleet| -> BTreeSet<String> {
        f.containers.iter().map(|c| c.spec.name.clone()).collect()
    };
    let (hb, ha) = (names(before), names(after));
    let (cb, ca) = (cnames(before), cnames(after));
    let moved = ca
        .intersection(&cb)
        .filter_map(|c| {
            let from = before_placement.host_of(c)?;
            let to = placement.host_of(c)?;
            (from != to).then(|| Move {
                container: c.clone(),
                from: from.to_string(),
                to: to.to_string(),
            })
        })
        .collect();
    WhatIf {
        hosts_added: ha.difference(&hb).cloned().collect(),
        hosts_removed: hb.difference(&ha).cloned().collect(),
        containers_added: ca
            .difference(&cb)
            .map(|c| (c.clone(), placement.host_of(c).map(str::to_string)))
            .collect(),
        containers_removed: cb.difference(&ca).cloned().collect(),
        moved,
        placement,
        density,
    }
}
