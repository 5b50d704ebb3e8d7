//! `--drain HOST`: whether a host's containers fit on the other hosts (N+1 planning), and where
//! each would go.
//!
//! Neighbours: re-runs `schedule` with the host cordoned, starting from the current placement
//! so that nothing else moves; reports the resulting `Density`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Basis, Density, assess};
use crate::model::Fleet;
use crate::schedule::Assignment;

/// Where one container of the drained host would go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrainMove {
    /// Container name.
    pub container: String,
    /// Its new host, if any has room.
    pub to: Option<String>,
    /// Why it fits nowhere, when it does not.
    pub reason: Option<String>,
    /// The spec pins it to the drained host: moving it means changing the spec.
    pub pinned: bool,
}

/// The answer to `--drain`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrainReport {
    /// The drained host.
    pub host: String,
    /// Whether every container of the host finds room elsewhere.
    pub fits: bool,
    /// One entry per container of the host, by name.
    pub moves: Vec<DrainMove>,
    /// Density of the other hosts afterwards.
    pub after: Density,
}

impl DrainReport {
    /// Whether the drain works, in words, for the table and HTML views alike.
    pub fn verdict(&self) -> &'static str {
        if self.after.hosts.is_empty() {
            "the fleet has no other host to take its containers"
        } else if self.fits {
            "its containers fit on the other hosts"
        } else {
            "its containers do NOT all fit on the other hosts"
        }
    }

    /// Rows of container, where it goes (or why nowhere), and whether it is pinned to the drained
    /// host, for the table and HTML views alike.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.moves
            .iter()
            .map(|m| {
                let to = match (&m.to, &m.reason) {
                    (Some(h), _) => h.clone(),
                    (None, Some(r)) => format!("nowhere: {r}"),
                    (None, None) => "nowhere".into(),
                };
                let pin = if m.pinned { "pinned here" } else { "" };
                vec![m.container.clone(), to, pin.into()]
            })
            .collect()
    }
}

/// Drains `host`: its containers (pinned ones included, flagged) are placed on the other hosts,
/// everything else stays where `before` put it.
pub fn drain(
    fleet: &Fleet,
    before: &Assignment,
    host: &str,
    basis: &Basis,
) -> Result<DrainReport, String> {
    if fleet.host(host).is_none() {
        let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(format!(
            "cannot drain host {host}: the fleet has no such host (hosts: {})",
            names.join(", ")
        ));
    }
    let others: Vec<&str> = fleet
        .hosts
        .iter()
        .map(|h| h.name.as_str())
        .filter(|h| *h != host)
        .collect();
    let mut drained = fleet.clone();
    let mut pinned = Vec::new();
    for c in &mut drained.containers {
        if c.host.as_deref() == Some(host) {
            c.host = None;
            pinned.push(c.spec.name.clone());
        }
    }
    let mut cordoned = Basis {
        current: before.as_current(),
        ..basis.clone()
    };
    cordoned.options.cordoned.insert(host.to_string());
    let (after_assignment, after) = assess(&drained, &cordoned);
    let reasons: BTreeMap<&str, &str> = after
        .unplaced
        .iter()
        .map(|u| (u.container.as_str(), u.reason.as_str()))
        .collect();
    let moves: Vec<DrainMove> = before
        .on_host(host)
        .map(|(name, _)| DrainMove {
            container: name.to_string(),
            to: after_assignment.host_of(name).map(str::to_string),
            // With no other host, that is the reason, not the scheduler's view of a fleet
            // whose only host is cordoned.
            reason: if others.is_empty() {
                Some(format!("the fleet has no host but {host}"))
            } else {
                reasons.get(name).map(|r| r.to_string())
            },
            pinned: pinned.iter().any(|p| p == name),
        })
        .collect();
    Ok(DrainReport {
        host: host.to_string(),
        fits: moves.iter().all(|m| m.to.is_some()),
        moves,
        after: without_host(after, host),
    })
}

/// The density after a drain: the drained host's row removed, and the totals counted again
/// without its capacity (a drained host offers none).
fn without_host(after: Density, host: &str) -> Density {
    let hosts: Vec<_> = after.hosts.into_iter().filter(|h| h.host != host).collect();
    let mut totals = crate::schedule::Resource::ALL.map(|r| super::Line::new(r, 0, 0, 0));
    for h in hosts.iter().filter(|h| h.capacity_known) {
        for (t, line) in totals.iter_mut().zip(&h.lines) {
            t.add(line);
        }
    }
    Density {
        hosts,
        totals,
        ..after
    }
}
