//! Checks of a resolved fleet that only placement knows to make: overcommit ratios, selectors
//! that match nothing, containers larger than any host they may go to.
//!
//! Neighbours: `resolve` calls [`validate`] and maps each [`Finding`]'s subject and field to
//! the spec's file:line:column; the checks reuse `hosts` and `resources`.

use std::collections::{BTreeMap, HashMap};

use fleet_protocol::Capacity;
use serde::Serialize;

use super::hosts::{HostLimits, host_limits};
use super::resources::{DemandDefaults, Resource, demand};
use super::selector_text;
use crate::model::{Fleet, Host};

/// The largest overcommit ratio taken as meant; above it a typo is likelier (`overcommit: 150`
/// for 150%).
pub const MAX_OVERCOMMIT: f64 = 100.0;

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Subject {
    /// A host, by name.
    Host(String),
    /// A container, by name.
    Container(String),
}

/// One problem, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The host or container concerned.
    pub subject: Subject,
    /// The spec field at fault, dotted (`overcommit.cpu`, `placement.selector`,
    /// `resources.memory`, `host`).
    pub field: &'static str,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// Every finding for `fleet`, hosts first, then containers, each in name order.
pub fn validate(
    fleet: &Fleet,
    observed: &BTreeMap<String, Capacity>,
    defaults: &DemandDefaults,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in &fleet.hosts {
        for (field, ratio) in [
            ("overcommit.cpu", h.overcommit.cpu),
            ("overcommit.memory", h.overcommit.memory),
        ] {
            if let Some(message) = ratio_problem(ratio) {
                out.push(Finding {
                    subject: Subject::Host(h.name.clone()),
                    field,
                    message,
                });
            }
        }
    }
    let limits: Vec<_> = fleet
        .hosts
        .iter()
        .map(|h| (h, host_limits(h, observed.get(&h.name))))
        .collect();
    // Fleets pin thousands of containers to hundreds of hosts, and put a hundred thousand on a
    // handful of selectors: each pinned host and each distinct selector is worked out once, so
    // the checks cost one lookup per container rather than a scan of every host.
    let by_name: HashMap<&str, usize> = limits
        .iter()
        .enumerate()
        .map(|(i, (h, _))| (h.name.as_str(), i))
        .collect();
    let mut by_selector: HashMap<&BTreeMap<String, String>, Candidates<'_>> = HashMap::new();
    let mut spread_found: HashMap<(&BTreeMap<String, String>, &str), bool> = HashMap::new();
    for c in &fleet.containers {
        let name = &c.spec.name;
        let finding = |field, message| Finding {
            subject: Subject::Container(name.clone()),
            field,
            message,
        };
        let pinned;
        let candidates = match c.host.as_deref() {
            Some(pin) => {
                let Some(&i) = by_name.get(pin) else {
                    out.push(finding(
                        "host",
                        format!("host {pin} is not declared in the fleet"),
                    ));
                    continue;
                };
                pinned = Candidates::of(&limits, vec![i]);
                &pinned
            }
            None => {
                let selector = &c.placement.selector;
                let eligible = by_selector.entry(selector).or_insert_with(|| {
                    let matching = (0..limits.len())
                        .filter(|&i| {
                            let labels = &limits[i].0.labels;
                            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
                        })
                        .collect();
                    Candidates::of(&limits, matching)
                });
                if eligible.hosts.is_empty() && !fleet.hosts.is_empty() {
                    out.push(finding(
                        "placement.selector",
                        format!(
                            "selector {} matches no host; use labels some host carries",
                            selector_text(selector)
                        ),
                    ));
                    continue;
                }
                if let Some(key) = c.placement.spread.as_deref()
                    && key != "host"
                    && !*spread_found.entry((selector, key)).or_insert_with(|| {
                        eligible
                            .hosts
                            .iter()
                            .any(|&i| limits[i].0.labels.contains_key(key))
                    })
                {
                    out.push(finding(
                        "placement.spread",
                        format!(
                            "spread over label {key}, which no host it may go to has; use host \
                             or a label the hosts carry"
                        ),
                    ));
                }
                &*eligible
            }
        };
        let Some(largest) = &candidates.largest else {
            continue;
        };
        let d = demand(c, defaults);
        for r in Resource::ALL {
            let (host, most) = largest[r.index()];
            if d.get(r) > most {
                let whose = match c.host.as_deref() {
                    Some(pin) => format!("host {pin} can hold"),
                    None => "any host it may go to can hold".into(),
                };
                out.push(finding(
                    field_of(r),
                    format!(
                        "needs {} {r}, more than {whose} ({} on {host})",
                        r.format(d.get(r)),
                        r.format(most)
                    ),
                ));
            }
        }
    }
    out
}

/// The hosts some containers may go to, and the most each resource has on any of them.
struct Candidates<'h> {
    /// Indices into the host list, in fleet order.
    hosts: Vec<usize>,
    /// Per resource (by [`Resource::index`]), the largest allocatable amount among the
    /// candidates whose capacity is known, and the host holding it (the last of equals); `None`
    /// when no candidate's capacity is known.
    largest: Option<[(&'h str, u64); 3]>,
}

impl<'h> Candidates<'h> {
    fn of(limits: &[(&'h Host, HostLimits)], hosts: Vec<usize>) -> Self {
        let known: Vec<_> = hosts
            .iter()
            .filter_map(|&i| {
                limits[i]
                    .1
                    .allocatable
                    .map(|a| (limits[i].0.name.as_str(), a))
            })
            .collect();
        let largest = (!known.is_empty()).then(|| {
            Resource::ALL.map(|r| {
                known
                    .iter()
                    .map(|(h, a)| (*h, a.get(r)))
                    .max_by_key(|(_, v)| *v)
                    .expect("known is not empty")
            })
        });
        Candidates { hosts, largest }
    }
}

fn field_of(r: Resource) -> &'static str {
    match r {
        Resource::Cpu => "resources.cpu_limit",
        Resource::Memory => "resources.memory",
        Resource::Disk => "resources.disk_space",
    }
}

fn ratio_problem(ratio: f64) -> Option<String> {
    if !ratio.is_finite() {
        Some(format!(
            "overcommit ratio {ratio} is not a number; use a ratio from 1.0 (none) to {MAX_OVERCOMMIT}"
        ))
    } else if ratio < 1.0 {
        Some(format!(
            "overcommit ratio {ratio} is below 1.0; use 1.0 for none, or more to allow \
             allocations beyond capacity"
        ))
    } else if ratio > MAX_OVERCOMMIT {
        Some(format!(
            "overcommit ratio {ratio} is absurd (more than {MAX_OVERCOMMIT}); a ratio is \
             1.0 for none, 2.0 for double"
        ))
    } else {
        None
    }
}
