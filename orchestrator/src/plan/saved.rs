//! Saved plans: `fleet plan --out FILE` writes what the plan was made from (the resolved spec
//! as spec text, the options and targets, a digest of every container each host reported) and
//! the plan's own digest; `fleet apply FILE` makes the plan again from the same spec and refuses,
//! naming what changed, unless the spec, every host and the plan made now are what was saved.
//! Planning is pure and deterministic, so an equal spec and equal observations give the same
//! plan, and the steps digest proves it: the apply executes exactly the plan that was reviewed.
//!
//! The file also carries the plan as `fleet plan -o json` prints it, for people and scripts, and a
//! checksum over the rest: an edited file is refused (the checksum guards against accidents and
//! hand edits, not against someone who recomputes it; the spec inside is only ever loaded
//! through the same checks as `-f`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::diff::{HostObservation, Observed};
use crate::model::Fleet;

/// The `format` of files this version writes and reads.
pub const FORMAT: &str = "fleet-plan/1";

/// What the plan was made with, besides the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// `--prune`.
    pub prune: bool,
    /// `--allow-recreate`.
    pub allow_recreate: bool,
    /// `--target` values.
    pub targets: Vec<String>,
    /// `-l` values.
    pub selectors: Vec<String>,
}

/// What one host looked like when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostSeen {
    /// Reached: each container (of any fleet) with a digest of what the plan reads of it.
    Reachable {
        /// Container name to digest.
        containers: BTreeMap<String, String>,
    },
    /// Not reached.
    Unreachable,
}

/// The file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// [`FORMAT`].
    pub format: String,
    /// The fleet's name.
    pub fleet: String,
    /// The spec paths as given to `fleet plan` (empty: the embedded demo).
    pub spec_files: Vec<String>,
    /// The resolved spec as spec text (`render::spec_yaml`).
    pub spec: String,
    /// Options and targets.
    pub options: PlanOptions,
    /// Every host of the spec.
    pub hosts: BTreeMap<String, HostSeen>,
    /// Digest of the steps, their waves and actions.
    pub steps_digest: String,
    /// The plan as `fleet plan -o json` prints it (informative; never read back).
    pub plan: serde_json::Value,
    /// sha256 over every other field.
    pub checksum: String,
}

/// Why a saved plan is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedPlanError {
    /// Not a plan file, or one this version does not read.
    #[error("{0}")]
    Unreadable(String),
    /// Its checksum does not match: edited or damaged.
    #[error(
        "the plan file was changed after `fleet plan` wrote it (its checksum does not match); make \
         a new one with `fleet plan --out FILE`"
    )]
    Edited,
    /// Made for another fleet than the spec given.
    #[error("the plan is for fleet {saved:?}, the spec is fleet {spec:?}")]
    OtherFleet {
        /// The plan's fleet.
        saved: String,
        /// The spec's.
        spec: String,
    },
}

fn digest_of<T: Serialize + ?Sized>(value: &T) -> String {
    crate::node_binary::sha256_hex(&serde_json::to_vec(value).expect("plain data serializes"))
}

/// What each host reported, as digests.
pub fn hosts_seen(observed: &Observed) -> BTreeMap<String, HostSeen> {
    observed
        .hosts
        .iter()
        .map(|(host, obs)| {
            let seen = match obs {
                HostObservation::Reachable { containers, .. } => HostSeen::Reachable {
                    containers: containers
                        .iter()
                        .map(|c| {
                            // What the diff reads; not the init's PID, usage or restart counts.
                            let read = (&c.fleet, c.state, &c.spec, &c.live, &c.moving_to);
                            (c.name.clone(), digest_of(&read))
                        })
                        .collect(),
                },
                HostObservation::Unreachable { .. } => HostSeen::Unreachable,
            };
            (host.clone(), seen)
        })
        .collect()
}

/// Digest of what the plan would do: each step's host, wave, kind and wire actions, in order.
pub fn steps_digest(plan: &Plan) -> String {
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|s| (&s.change.host, s.wave, s.kind, &s.change.name, &s.actions))
        .collect();
    digest_of(&steps)
}

impl SavedPlan {
    /// The file for `plan`, made from `fleet` (whose spec text is `spec`) and `observed`.
    pub fn new(
        fleet: &Fleet,
        spec: String,
        spec_files: Vec<String>,
        options: PlanOptions,
        observed: &Observed,
        plan: &Plan,
    ) -> SavedPlan {
        let mut saved = SavedPlan {
            format: FORMAT.to_string(),
            fleet: fleet.name.clone(),
            spec_files,
            spec,
            options,
            hosts: hosts_seen(observed),
            steps_digest: steps_digest(plan),
            plan: super::render::json(plan),
            checksum: String::new(),
        };
        saved.checksum = saved.compute_checksum();
        saved
    }

    fn compute_checksum(&self) -> String {
        let mut unsummed = self.clone();
        unsummed.checksum = String::new();
        digest_of(&unsummed)
    }

    /// Reads a plan file's text, refusing another format and an edited file.
    pub fn parse(text: &str) -> Result<SavedPlan, SavedPlanError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            SavedPlanError::Unreadable(format!(
                "not a plan file written by `fleet plan --out`: {e}"
            ))
        })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(SavedPlanError::Unreadable(format!(
                    "plan format {other:?} is not one this fleet reads ({FORMAT})"
                )));
            }
            None => {
                return Err(SavedPlanError::Unreadable(
                    "not a plan file written by `fleet plan --out` (no \"format\")".into(),
                ));
            }
        }
        let saved: SavedPlan = serde_json::from_value(value)
            .map_err(|e| SavedPlanError::Unreadable(format!("damaged plan file: {e}")))?;
        if saved.compute_checksum() != saved.checksum {
            return Err(SavedPlanError::Edited);
        }
        Ok(saved)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("plain data serializes");
        text.push('\n');
        text
    }
}

/// What differs between the saved plan's world and now, one line each (empty: nothing).
pub fn staleness(saved: &SavedPlan, now: &Fleet, observed: &Observed, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(then) = crate::resolve::load_str("<saved plan>", &saved.spec) {
        out.extend(spec_changes(&then, now));
    }
    let hosts_now = hosts_seen(observed);
    for (host, seen) in &saved.hosts {
        match (seen, hosts_now.get(host)) {
            (_, None) => out.push(format!("host {host} is no longer in the spec")),
            (HostSeen::Reachable { .. }, Some(HostSeen::Unreachable)) => {
                out.push(format!("host {host} was reachable and is not now"));
            }
            (HostSeen::Unreachable, Some(HostSeen::Reachable { .. })) => {
                out.push(format!("host {host} was unreachable and answers now"));
            }
            (
                HostSeen::Reachable { containers: a },
                Some(HostSeen::Reachable { containers: b }),
            ) => {
                let changed = digest_changes(a, b, "is gone", "appeared");
                if !changed.is_empty() {
                    out.push(format!("on {host}: {}", changed.join(", ")));
                }
            }
            (HostSeen::Unreachable, Some(HostSeen::Unreachable)) => {}
        }
    }
    for host in hosts_now.keys().filter(|h| !saved.hosts.contains_key(*h)) {
        out.push(format!("host {host} was added to the spec"));
    }
    if out.is_empty() && steps_digest(plan) != saved.steps_digest {
        out.push(
            "the plan made now differs from the saved one (placement follows the capacities the \
             nodes report)"
                .to_string(),
        );
    }
    out
}

/// The spec's changes between two loads, by container and host name.
fn spec_changes(then: &Fleet, now: &Fleet) -> Vec<String> {
    let mut out = Vec::new();
    if then.name != now.name {
        out.push(format!(
            "the fleet is now {:?}, was {:?}",
            now.name, then.name
        ));
    }
    let containers = |f: &Fleet| -> BTreeMap<String, String> {
        f.containers
            .iter()
            .map(|c| (c.spec.name.clone(), digest_of(c)))
            .collect()
    };
    let hosts = |f: &Fleet| -> BTreeMap<String, String> {
        f.hosts
            .iter()
            .map(|h| (h.name.clone(), digest_of(h)))
            .collect()
    };
    for (what, a, b) in [
        ("container", containers(then), containers(now)),
        ("host", hosts(then), hosts(now)),
    ] {
        let changed = digest_changes(&a, &b, "removed", "added");
        if !changed.is_empty() {
            out.push(format!(
                "the spec changed since the plan: {what} {}",
                changed.join(", ")
            ));
        }
    }
    out
}

/// Names to digests, then and now: `<name> <gone>` for each only in `then`, `<name> changed`
/// for each whose digest differs, then `<name> <appeared>` for each only in `now`.
fn digest_changes(
    then: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    gone: &str,
    appeared: &str,
) -> Vec<String> {
    let mut changed = Vec::new();
    for (name, digest) in then {
        match now.get(name) {
            None => changed.push(format!("{name} {gone}")),
            Some(d) if d != digest => changed.push(format!("{name} changed")),
            Some(_) => {}
        }
    }
    changed.extend(
        now.keys()
            .filter(|n| !then.contains_key(*n))
            .map(|n| format!("{n} {appeared}")),
    );
    changed
}
