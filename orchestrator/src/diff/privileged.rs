//! What the plan says about privilege: a warning for every container it would create or change
//! that runs privileged (its root is host root), and a note on a change that makes a container
//! unprivileged (the node moves its files' owners into the container's uid range at that
//! restart; a container made before unprivileged became the default reads as privileged). And
//! the check that a host has a uid range for every container the plan makes unprivileged there,
//! from the free count its hello reports.

use std::collections::BTreeMap;

use super::{Change, Diff, HostObservation, Observed, Refusal};

/// One warning per privileged container with work in the plan, naming it and what it gives up.
pub fn warnings(diff: &Diff) -> Vec<String> {
    let mut out: Vec<String> = [
        &diff.create,
        &diff.start,
        &diff.stop,
        &diff.update_live,
        &diff.update_restart,
        &diff.recreate,
    ]
    .into_iter()
    .flatten()
    .filter(|c| c.spec.as_ref().is_some_and(|s| s.privileged))
    .map(|c| {
        format!(
            "{} on {} is privileged: its root is host root (no user namespace), so whatever \
             escapes it is root on {}; drop privileged: true unless it must own host resources",
            c.name, c.host, c.host
        )
    })
    .collect();
    out.sort();
    out.dedup();
    out
}

/// The note for a change of `privileged`, when it has one.
pub fn note(change: &Change) -> Option<String> {
    let field = change.fields.iter().find(|f| f.field == "privileged")?;
    Some(match (field.old.as_str(), field.new.as_str()) {
        ("true", "false") => {
            "becomes unprivileged: at the restart its files move into a uid range \
             of its own (a container made before unprivileged became the default was privileged)"
                .to_owned()
        }
        _ => "becomes privileged: at the restart its files move to host ids".to_owned(),
    })
}

/// Refuses the unprivileged creates, moves in (the target makes the container in a range of its
/// own) and switches to unprivileged that a host has no free uid range left for, by its hello's
/// `uid_ranges_free`; a node that does not say is not checked (its create or import fails
/// instead, naming the pool). The refused changes leave the plan, so nothing is done for them:
/// a refused move leaves the container running on its source.
pub fn check_uid_ranges(out: &mut Diff, observed: &Observed) {
    let mut free: BTreeMap<&str, u32> = BTreeMap::new();
    let mut present: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (host, obs) in &observed.hosts {
        if let HostObservation::Reachable {
            node: Some(node),
            containers,
        } = obs
            && let Some(n) = node.capacity.uid_ranges_free
        {
            free.insert(host, n);
            present.insert(host, containers.iter().map(|c| c.name.as_str()).collect());
        }
    }
    let needs_range = |c: &Change, creating: bool| {
        let unprivileged = c.spec.as_ref().is_some_and(|s| !s.privileged);
        let switching = c
            .fields
            .iter()
            .any(|f| f.field == "privileged" && f.new == "false");
        let new_here = creating
            && !present
                .get(c.host.as_str())
                .is_some_and(|names| names.contains(&c.name.as_str()));
        unprivileged && (new_here || switching)
    };
    let mut refused = Vec::new();
    for (bucket, creating) in [
        (&mut out.create, true),
        (&mut out.moves, true),
        (&mut out.start, false),
        (&mut out.update_live, false),
        (&mut out.update_restart, false),
    ] {
        bucket.retain(|c| {
            if !needs_range(c, creating) {
                return true;
            }
            let Some(left) = free.get_mut(c.host.as_str()) else {
                return true;
            };
            if *left > 0 {
                *left -= 1;
                return true;
            }
            refused.push(Refusal {
                name: c.name.clone(),
                host: c.host.clone(),
                reason: format!(
                    "privileged: false needs a uid range of its own and {} has none free \
                     (every range of its fleet-node --uid-pool is held): destroy containers \
                     there, widen its pool, or place this one elsewhere",
                    c.host
                ),
            });
            false
        });
    }
    out.refused.extend(refused);
}
