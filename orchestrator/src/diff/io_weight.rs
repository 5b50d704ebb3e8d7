//! The plan's warning for an I/O weight a host will not honour: the node's hello says whether
//! the disk under its root runs a scheduler that reads weights (BFQ, or iocost on cgroup v2).
//! Where none does, the weight is still written (so it counts once the operator switches the
//! scheduler) but would silently do nothing, so the plan names the host, the containers and the
//! fix, rather than stay silent. OpenVZ's `io.priority` is a weight too and is warned the same
//! way (the node does not refuse it there: it writes no weight and the container starts).

use std::collections::BTreeMap;

use super::{Assignment, Observed};
use crate::model::Fleet;

/// One warning per host and field (`io.weight`, or OpenVZ's `io.priority` that the node writes
/// as a weight) that ignores weights and has containers asking for one.
pub fn warnings(fleet: &Fleet, placement: &Assignment, observed: &Observed) -> Vec<String> {
    let mut asking: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for c in &fleet.containers {
        let io = &c.spec.resources.io;
        let field = match (io.weight, io.priority) {
            (Some(_), _) => "io.weight",
            (None, Some(_)) => "io.priority",
            (None, None) => continue,
        };
        let Some(host) = placement.get(&c.spec.name) else {
            continue;
        };
        // A host not observed, or whose node did not say, is not judged.
        if observed.features(host).is_some_and(|f| !f.io_weight) {
            asking
                .entry((host.as_str(), field))
                .or_default()
                .push(c.spec.name.as_str());
        }
    }
    asking
        .into_iter()
        .map(|((host, field), names)| {
            let note = observed
                .features(host)
                .and_then(|f| f.notes.iter().find(|n| n.starts_with("io.weight")))
                .map(|n| {
                    format!(
                        ": {}",
                        n.split_once(": ").map_or(n.as_str(), |(_, why)| why)
                    )
                })
                .unwrap_or_default();
            format!(
                "{field} of {} is ignored on {host}: no I/O scheduler there reads weights{note}",
                names.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixture::{
        converged_observation, fleet, hello_mut, host, pinned, pinned_assignment, spec,
        special_on_a_and_its_copy_on_b,
    };

    #[test]
    fn a_weight_on_a_host_that_reads_none_is_warned_naming_host_and_why() {
        let mut heavy = spec("f", "db");
        heavy.resources.io.weight = Some(500);
        let f = special_on_a_and_its_copy_on_b(heavy);
        let mut obs = converged_observation(&f);
        assert!(warnings(&f, &pinned_assignment(&f), &obs).is_empty());
        let n = hello_mut(&mut obs, "a");
        n.features.io_weight = false;
        n.features.io_weight_file = fleet_protocol::WeightFile::None;
        n.features.notes.push(
            "io.weight is ignored on this host: the I/O scheduler of vda (254:0) is none".into(),
        );
        assert_eq!(
            warnings(&f, &pinned_assignment(&f), &obs),
            [
                "io.weight of db is ignored on a: no I/O scheduler there reads weights: \
              the I/O scheduler of vda (254:0) is none"
            ]
        );
    }

    #[test]
    fn an_openvz_priority_on_a_host_that_reads_no_weights_is_warned_as_priority() {
        let mut old_vz = spec("f", "vz");
        old_vz.resources.io.priority = Some(6);
        let f = fleet("f", vec![host("a")], vec![pinned(old_vz, "a")]);
        let mut obs = converged_observation(&f);
        assert!(warnings(&f, &pinned_assignment(&f), &obs).is_empty());
        let n = hello_mut(&mut obs, "a");
        n.features.io_weight = false;
        n.features.notes.push(
            "io.weight: no I/O weight file (needs the BFQ scheduler with group scheduling)".into(),
        );
        assert_eq!(
            warnings(&f, &pinned_assignment(&f), &obs),
            [
                "io.priority of vz is ignored on a: no I/O scheduler there reads weights: \
              no I/O weight file (needs the BFQ scheduler with group scheduling)"
            ]
        );
    }
}
