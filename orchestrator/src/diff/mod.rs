//! Desired state against observed state: one decision per container, sorted into named buckets
//! (create, start, stop, update live, update with restart, recreate, destroy), in the manner of
//! Nomad's scheduler diff.
//!
//! Pure: takes the resolved [`Fleet`], where each container goes ([`Assignment`]) and what
//! `observe` found on every host ([`Observed`]), and returns a [`Diff`]. `plan` turns the diff into
//! an ordered graph of wire actions; nothing here does I/O. Invariants: nothing is destroyed unless
//! `prune` (or a move with `allow_recreate`) asks for it, and never a container of another fleet;
//! nothing is decided about a host that could not be observed.

pub mod change;
pub mod fields;
mod io_weight;
mod privileged;
mod supervisor;
mod user_quota;

use std::collections::{BTreeMap, HashMap};

use fleet_protocol::{ContainerSpec, ContainerState, ContainerStatus, DesiredState, Features};
use serde::Serialize;

pub use crate::observe::{HostObservation, Observed};
pub use change::{Change, Refusal};
pub use fields::{Effect, FieldDiff, compare};

use crate::model::Fleet;
use crate::schedule::Unplaced;

/// Where each container goes: container name to host name (`schedule::Assignment::as_current`).
pub type Assignment = BTreeMap<String, String>;

/// Options that widen what the diff may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DiffOptions {
    /// Destroy this fleet's containers that the spec no longer names.
    pub prune: bool,
    /// Allow moving a container to another host by destroying and recreating it.
    pub allow_recreate: bool,
}

/// Every decision, by bucket. Each bucket is sorted by host, then container name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// The fleet planned.
    pub fleet: String,
    /// Containers to create (or repair, when found broken).
    pub create: Vec<Change>,
    /// Stopped containers to start (with any spec change applied first).
    pub start: Vec<Change>,
    /// Running containers to stop (with any spec change applied after).
    pub stop: Vec<Change>,
    /// Changes made while the container runs.
    pub update_live: Vec<Change>,
    /// Changes that restart the container's init; `fields` names what forces it.
    pub update_restart: Vec<Change>,
    /// Containers destroyed and created again (template changed): their data is lost.
    pub recreate: Vec<Change>,
    /// Containers destroyed (pruned, the old half of a move with `allow_recreate`, or the copy
    /// a finished move left on its old host).
    pub destroy: Vec<Change>,
    /// Containers that change host: stopped on `from`, their disk and config sent, started on
    /// `host` (`migrate`).
    pub moves: Vec<Change>,
    /// Containers left alone on purpose.
    pub refused: Vec<Refusal>,
    /// Containers placed on a host that could not be observed.
    pub skipped: Vec<Refusal>,
    /// Hosts that could not be observed, with why.
    pub unreachable: BTreeMap<String, String>,
    /// This fleet's containers the spec does not name, left alone without `prune`.
    pub not_in_spec: Vec<(String, String)>,
    /// Containers that already match.
    pub in_sync: Vec<(String, String)>,
    /// What the plan should warn about (privileged containers it creates or changes, restart
    /// policies on hosts with no supervisor).
    pub warnings: Vec<String>,
}

impl Diff {
    /// True when nothing would be done.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty()
            && self.start.is_empty()
            && self.stop.is_empty()
            && self.update_live.is_empty()
            && self.update_restart.is_empty()
            && self.recreate.is_empty()
            && self.destroy.is_empty()
            && self.moves.is_empty()
    }
}

/// Compares the desired fleet with what was observed. Containers the scheduler could not place
/// (`unplaced`, with its reasons) are refused as such, after the other refusals; any other
/// container missing from `placement` is refused as having no host.
pub fn diff(
    fleet: &Fleet,
    placement: &Assignment,
    unplaced: &[Unplaced],
    observed: &Observed,
    opts: DiffOptions,
) -> Diff {
    let mut out = Diff {
        fleet: fleet.name.clone(),
        ..Diff::default()
    };
    // Index every observed container by name: name -> [(host, status)].
    let mut found: HashMap<&str, Vec<(&str, &ContainerStatus)>> = HashMap::new();
    for (host, obs) in &observed.hosts {
        match obs {
            HostObservation::Reachable { containers, .. } => {
                for c in containers {
                    found.entry(c.name.as_str()).or_default().push((host, c));
                }
            }
            HostObservation::Unreachable { error } => {
                out.unreachable.insert(host.clone(), error.clone());
            }
        }
    }
    let reachable = |h: &str| {
        matches!(
            observed.hosts.get(h),
            Some(HostObservation::Reachable { .. })
        )
    };
    let mut wanted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let unplaced_names: std::collections::HashSet<&str> =
        unplaced.iter().map(|u| u.container.as_str()).collect();
    // A node that did not say what it can do is taken as able to do nothing optional.
    let no_features = Features::default();

    for desired in &fleet.containers {
        let name = desired.spec.name.as_str();
        wanted.insert(name);
        let Some(host) = placement.get(name) else {
            if unplaced_names.contains(name) {
                continue;
            }
            out.refused.push(Refusal {
                name: name.into(),
                host: String::new(),
                reason:
                    "no host: pin it with `host:` or give it a placement the scheduler can satisfy"
                        .into(),
            });
            continue;
        };
        if !observed.hosts.contains_key(host) {
            out.refused.push(Refusal {
                name: name.into(),
                host: host.clone(),
                reason: format!("host {host:?} was not observed (is it in the spec's hosts?)"),
            });
            continue;
        }
        if !reachable(host) {
            out.skipped.push(Refusal {
                name: name.into(),
                host: host.clone(),
                reason: format!("host {host} is unreachable"),
            });
            continue;
        }
        let mut copies: Vec<(&str, &ContainerStatus)> =
            found.get(name).cloned().unwrap_or_default();
        // A copy its node marks as moving to a host that holds the container now is what a
        // finished move left behind: the new copy is the container.
        for (from, to) in crate::migrate::left_over(&fleet.name, &copies) {
            out.destroy.push(Change {
                host: from.into(),
                name: name.into(),
                note: Some(format!(
                    "left on {from} by its move to {to}, which finished"
                )),
                ..Change::default()
            });
            copies.retain(|(h, _)| *h != from);
        }
        let here = copies.iter().find(|(h, _)| *h == host.as_str());
        let elsewhere: Vec<&str> = copies
            .iter()
            .filter(|(h, c)| *h != host.as_str() && c.fleet == fleet.name)
            .map(|(h, _)| *h)
            .collect();
        match here {
            Some((_, status)) if status.fleet != fleet.name => {
                out.refused.push(Refusal {
                    name: name.into(),
                    host: host.clone(),
                    reason: format!(
                        "a container of that name on {host} belongs to fleet {:?}; rename one of them",
                        status.fleet
                    ),
                });
            }
            Some((_, status)) => {
                let features = observed.features(host).unwrap_or(&no_features);
                decide_existing(&mut out, host, &desired.spec, status, features)
            }
            None if !elsewhere.is_empty() => {
                let from = elsewhere[0];
                let old = copies
                    .iter()
                    .find(|(h, _)| *h == from)
                    .map(|(_, c)| *c)
                    .expect("elsewhere is taken from the copies");
                let features = observed.features(host).unwrap_or(&no_features);
                let nodes = (observed.node(from), observed.node(host));
                let planned =
                    crate::migrate::plan_move(&desired.spec, old, (from, host), nodes, features);
                if let (false, Ok(change)) = (opts.allow_recreate, &planned) {
                    out.moves.push(change.clone());
                } else if opts.allow_recreate {
                    out.destroy.push(Change {
                        host: from.into(),
                        name: name.into(),
                        fields: Vec::new(),
                        note: Some(format!("moves to {host}; its data is lost")),
                        ..Change::default()
                    });
                    out.create.push(Change {
                        host: host.clone(),
                        name: name.into(),
                        fields: Vec::new(),
                        note: Some(format!("moved from {from}; its data is lost")),
                        spec: Some(desired.spec.clone()),
                        ..Change::default()
                    });
                } else if let Err(reason) = planned {
                    out.refused.push(Refusal {
                        name: name.into(),
                        host: host.clone(),
                        reason,
                    });
                }
            }
            None => out.create.push(Change {
                host: host.clone(),
                name: name.into(),
                spec: Some(desired.spec.clone()),
                ..Change::default()
            }),
        }
    }

    out.refused.extend(unplaced.iter().map(|u| Refusal {
        name: u.container.clone(),
        host: String::new(),
        reason: format!("cannot be placed: {}", u.reason),
    }));

    // This fleet's containers that the spec no longer names.
    for (host, obs) in &observed.hosts {
        let HostObservation::Reachable { containers, .. } = obs else {
            continue;
        };
        for c in containers {
            if c.fleet != fleet.name || wanted.contains(c.name.as_str()) {
                continue;
            }
            if opts.prune {
                out.destroy.push(Change {
                    host: host.clone(),
                    name: c.name.clone(),
                    ..Change::default()
                });
            } else {
                out.not_in_spec.push((host.clone(), c.name.clone()));
            }
        }
    }
    for bucket in [
        &mut out.create,
        &mut out.start,
        &mut out.stop,
        &mut out.update_live,
        &mut out.update_restart,
        &mut out.recreate,
        &mut out.destroy,
        &mut out.moves,
    ] {
        bucket.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    }
    out.not_in_spec.sort();
    out.in_sync.sort();
    privileged::check_uid_ranges(&mut out, observed);
    user_quota::check(&mut out, observed);
    out.warnings = privileged::warnings(&out);
    out.warnings
        .extend(supervisor::warnings(fleet, placement, observed));
    out.warnings
        .extend(io_weight::warnings(fleet, placement, observed));
    out
}

fn decide_existing(
    out: &mut Diff,
    host: &str,
    spec: &ContainerSpec,
    status: &ContainerStatus,
    features: &Features,
) {
    let fields = compare(spec, status, features);
    let change = |fields: Vec<FieldDiff>, note: Option<String>| {
        let mut c = Change {
            host: host.into(),
            name: spec.name.clone(),
            fields,
            note,
            spec: Some(spec.clone()),
            ..Change::default()
        };
        if let Some(n) = privileged::note(&c) {
            c.note = Some(match c.note.take() {
                Some(other) => format!("{other}; {n}"),
                None => n,
            });
        }
        c
    };
    if status.state == ContainerState::Broken {
        out.create
            .push(change(fields, Some("repair: found half-made".into())));
        return;
    }
    let worst = fields.iter().map(|f| f.effect).max();
    if worst == Some(Effect::Recreate) {
        out.recreate.push(change(fields, None));
        return;
    }
    let running = status.state == ContainerState::Running;
    match (running, spec.state) {
        (false, DesiredState::Running) => out.start.push(change(fields, None)),
        (true, DesiredState::Stopped) => out.stop.push(change(fields, None)),
        _ if fields.is_empty() => out.in_sync.push((host.into(), spec.name.clone())),
        // A stopped container has no process to restart: every change is applied offline.
        (false, _) => out.update_live.push(Change {
            offline: true,
            ..change(fields, Some("stopped".into()))
        }),
        (true, _) if worst == Some(Effect::Restart) => {
            let restart: Vec<FieldDiff> = fields;
            out.update_restart.push(change(restart, None));
        }
        (true, _) => out.update_live.push(change(fields, None)),
    }
}
