//! `--target NAME` and `-l key=value`: narrowing a diff to the containers asked for, like
//! Terraform's `-target` and kubectl's label selectors. What the diff decided for every other
//! container is taken out and listed (host, name, what it would have done), so the plan can say
//! what a later apply still has to do; refusals of containers not asked for stop counting
//! against the exit status.
//!
//! Pure: names are matched against the diff's own buckets (every container of the spec and
//! every container of this fleet on a host is in one), labels against the spec's labels or, for
//! a container the spec does not name, the labels its host stored.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diff::{Diff, HostObservation, Observed};
use crate::model::Fleet;

/// What a command was asked to work on: everything, or the containers matching every given
/// name pattern (any of them) and every label pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// `--target` values: names or set patterns (`web-{01..03}`).
    patterns: Vec<String>,
    /// Names the patterns expand to.
    names: BTreeSet<String>,
    /// `-l` pairs, all of which must match.
    labels: Vec<(String, String)>,
}

/// A container whose planned work was left out because it was not targeted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Untargeted {
    /// Its host (empty when it has none yet).
    pub host: String,
    /// Its name.
    pub name: String,
    /// What the plan would have done: `create`, `update live`, `refused`, ...
    pub action: String,
}

/// A target that names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A `-l` value that is not `key=value`.
    #[error(
        "invalid selector {0:?}: expected key=value, several joined by commas (app=web,tier=front)"
    )]
    Selector(String),
    /// A `--target` pattern that is not a name or a set pattern.
    #[error("invalid target {0:?}: {1}")]
    Pattern(String, String),
    /// A name neither in the spec nor on any host.
    #[error("no container named {name:?} in the spec or on its hosts{hint}")]
    Unknown {
        /// The name.
        name: String,
        /// ` (did you mean "web-01"?)`, or nothing.
        hint: String,
    },
    /// Nothing matched at all.
    #[error("no container matches {0}")]
    NoMatch(String),
}

impl Targets {
    /// Everything.
    pub fn all() -> Targets {
        Targets::default()
    }

    /// From `--target` values and `-l` values (`key=value[,key=value...]`).
    pub fn parse(targets: &[String], selectors: &[String]) -> Result<Targets, TargetError> {
        let mut out = Targets::default();
        for t in targets {
            // `worker-{index}` (a set with `count`) expands to nothing on its own: it is
            // matched against the sets' patterns instead.
            match crate::resolve::expand::expand(t, None) {
                Ok(members) => out.names.extend(members.into_iter().map(|m| m.name)),
                Err(e) if !t.contains('{') => {
                    return Err(TargetError::Pattern(t.clone(), e.message));
                }
                Err(_) => {}
            }
            out.patterns.push(t.clone());
        }
        for s in selectors {
            for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(TargetError::Selector(s.clone()));
                };
                let (k, v) = (k.trim(), v.trim_start_matches('=').trim());
                if k.is_empty() {
                    return Err(TargetError::Selector(s.clone()));
                }
                out.labels.push((k.to_string(), v.to_string()));
            }
        }
        Ok(out)
    }

    /// The names `--target` expands to.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.names.iter()
    }

    /// Whether every container is targeted.
    pub fn is_all(&self) -> bool {
        self.patterns.is_empty() && self.labels.is_empty()
    }

    /// Whether a container of this name, set (`group`) and labels is targeted.
    pub fn matches(
        &self,
        name: &str,
        group: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        let named = self.patterns.is_empty()
            || self.names.contains(name)
            || group.is_some_and(|g| self.patterns.iter().any(|p| p == g));
        named
            && self
                .labels
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
    }

    /// `--target a --target b -l app=web`, for messages.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .patterns
            .iter()
            .map(|p| format!("--target {p}"))
            .collect();
        if !self.labels.is_empty() {
            let pairs: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            parts.push(format!("-l {}", pairs.join(",")));
        }
        parts.join(" ")
    }
}

/// The labels a container carries: the spec's, or those its host stored for it.
/// Keeps the targeted entries of `bucket` (each at the host and name `at` gives), moving the
/// others into `left` as left out of `action`.
fn keep_targeted<T>(
    bucket: &mut Vec<T>,
    action: &str,
    is_target: &dyn Fn(&str, &str) -> bool,
    left: &mut Vec<Untargeted>,
    at: impl Fn(&T) -> (&str, &str),
) {
    bucket.retain(|entry| {
        let (host, name) = at(entry);
        let keep = is_target(host, name);
        if !keep {
            left.push(Untargeted {
                host: host.to_string(),
                name: name.to_string(),
                action: action.to_string(),
            });
        }
        keep
    });
}

fn labels_of<'a>(
    fleet: &'a Fleet,
    observed: &'a Observed,
    host: &str,
    name: &str,
) -> Option<&'a BTreeMap<String, String>> {
    if let Some(c) = fleet.container(name) {
        return Some(&c.spec.labels);
    }
    match observed.hosts.get(host)? {
        HostObservation::Reachable { containers, .. } => containers
            .iter()
            .find(|c| c.name == name && c.fleet == fleet.name)
            .map(|c| &c.spec.labels),
        HostObservation::Unreachable { .. } => None,
    }
}

/// Keeps in `diff` only the targeted containers' decisions and returns the others' (those with
/// work or a refusal; containers in sync are dropped silently). Warns, in the diff, about a
/// targeted container that waits for one whose work was left out. Fails, changing nothing, when a
/// target names no container of the spec or the hosts, or nothing matches at all.
pub fn narrow(
    diff: &mut Diff,
    fleet: &Fleet,
    observed: &Observed,
    targets: &Targets,
) -> Result<Vec<Untargeted>, TargetError> {
    if targets.is_all() {
        return Ok(Vec::new());
    }
    let empty = BTreeMap::new();
    let is_target = |host: &str, name: &str| {
        let labels = labels_of(fleet, observed, host, name).unwrap_or(&empty);
        let group = fleet
            .container(name)
            .and_then(|c| c.placement.group.as_deref());
        targets.matches(name, group, labels)
    };
    let mut known: BTreeSet<&str> = fleet
        .containers
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    let buckets = [
        ("destroy", &diff.destroy),
        ("stop", &diff.stop),
        ("update live", &diff.update_live),
        ("restart", &diff.update_restart),
        ("recreate", &diff.recreate),
        ("create", &diff.create),
        ("start", &diff.start),
        ("move", &diff.moves),
    ];
    for (_, b) in &buckets {
        known.extend(b.iter().map(|c| c.name.as_str()));
    }
    known.extend(diff.not_in_spec.iter().map(|(_, n)| n.as_str()));
    let groups: BTreeSet<&str> = fleet
        .containers
        .iter()
        .filter_map(|c| c.placement.group.as_deref())
        .collect();
    let unknown = targets.names.iter().find(|n| !known.contains(n.as_str()));
    let unknown = unknown.or_else(|| {
        targets.patterns.iter().find(|p| {
            p.contains('{')
                && !groups.contains(p.as_str())
                && crate::resolve::expand::expand(p, None).is_err()
        })
    });
    if let Some(name) = unknown {
        let hint = crate::spec::suggest::did_you_mean(name, known.iter().copied());
        return Err(TargetError::Unknown {
            name: name.clone(),
            hint,
        });
    }
    let any = known.iter().any(|name| {
        let host = diff
            .not_in_spec
            .iter()
            .chain(diff.in_sync.iter())
            .find(|(_, n)| n == name)
            .map(|(h, _)| h.as_str())
            .or_else(|| {
                buckets
                    .iter()
                    .flat_map(|(_, b)| b.iter())
                    .find(|c| c.name == *name)
                    .map(|c| c.host.as_str())
            })
            .unwrap_or("");
        is_target(host, name)
    });
    if !any {
        return Err(TargetError::NoMatch(targets.describe()));
    }

    let mut left = Vec::new();
    for (action, bucket) in [
        ("destroy", &mut diff.destroy),
        ("stop", &mut diff.stop),
        ("update live", &mut diff.update_live),
        ("restart", &mut diff.update_restart),
        ("recreate", &mut diff.recreate),
        ("create", &mut diff.create),
        ("start", &mut diff.start),
        ("move", &mut diff.moves),
    ] {
        keep_targeted(bucket, action, &is_target, &mut left, |c| {
            (&c.host, &c.name)
        });
    }
    for (action, bucket) in [
        ("refused", &mut diff.refused),
        ("not planned: host unreachable", &mut diff.skipped),
    ] {
        keep_targeted(bucket, action, &is_target, &mut left, |r| {
            (&r.host, &r.name)
        });
    }
    diff.in_sync.retain(|(h, n)| is_target(h, n));
    diff.not_in_spec.retain(|(h, n)| is_target(h, n));

    // A targeted container that starts after one whose start was left out may fail to start.
    let pending: BTreeMap<&str, &str> = left
        .iter()
        .filter(|u| matches!(u.action.as_str(), "create" | "start" | "recreate" | "move"))
        .map(|u| (u.name.as_str(), u.action.as_str()))
        .collect();
    for c in diff
        .create
        .iter()
        .chain(&diff.start)
        .chain(&diff.recreate)
        .chain(&diff.update_restart)
        .chain(&diff.moves)
    {
        for dep in fleet.container(&c.name).map_or(&[][..], |d| &d.depends_on) {
            if let Some(action) = pending.get(dep.as_str()) {
                diff.warnings.push(format!(
                    "{} depends on {dep}, whose {action} is left out by {}: add --target {dep} \
                     if {} needs it running",
                    c.name,
                    targets.describe(),
                    c.name
                ));
            }
        }
    }
    left.sort_by(|a, b| (&a.host, &a.name).cmp(&(&b.host, &b.name)));
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_sets_and_labels_match_as_operators_expect() {
        let t = Targets::parse(&["web-{01..02}".into(), "db".into()], &[]).unwrap();
        assert!(t.matches("web-02", None, &labels(&[])));
        assert!(t.matches("db", None, &labels(&[])));
        assert!(!t.matches("web-03", None, &labels(&[])));
        let set = Targets::parse(&["w-{index}".into()], &[]).unwrap();
        assert!(set.matches("w-3", Some("w-{index}"), &labels(&[])));
        assert!(!set.matches("w-3", None, &labels(&[])));
        let l = Targets::parse(&[], &["app=web,tier=front".into()]).unwrap();
        assert!(l.matches("x", None, &labels(&[("app", "web"), ("tier", "front")])));
        assert!(!l.matches("x", None, &labels(&[("app", "web")])));
        assert_eq!(l.describe(), "-l app=web,tier=front");
        assert!(matches!(
            Targets::parse(&[], &["app".into()]),
            Err(TargetError::Selector(_))
        ));
        assert!(Targets::all().is_all());
    }
}
