//! What the plan says about restart policies: one warning per host where containers that the
//! spec gives a policy (`restart: on-failure | always`) would run with no supervisor to carry it
//! out. Everything else works there; only an init that dies stays dead. A node says in its hello
//! whether `fleet-node supervise` runs (the `fleet-node.service` unit runs it); a node whose
//! hello is not known is not warned about.

use std::collections::BTreeMap;

use fleet_protocol::{DesiredState, RestartPolicy};

use super::{Assignment, HostObservation, Observed};
use crate::model::Fleet;

/// How many container names a warning lists before "and N more".
const NAMES_SHOWN: usize = 3;

/// One warning per host that runs no supervisor but is given containers with a restart policy.
pub fn warnings(fleet: &Fleet, placement: &Assignment, observed: &Observed) -> Vec<String> {
    let mut by_host: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for desired in &fleet.containers {
        let spec = &desired.spec;
        if spec.restart.policy == RestartPolicy::No || spec.state == DesiredState::Stopped {
            continue;
        }
        let Some(host) = placement.get(&spec.name) else {
            continue;
        };
        if let Some(HostObservation::Reachable {
            node: Some(node), ..
        }) = observed.hosts.get(host)
            && node.supervisor.is_none()
        {
            by_host.entry(host).or_default().push(&spec.name);
        }
    }
    by_host
        .into_iter()
        .map(|(host, names)| {
            let mut list = names[..names.len().min(NAMES_SHOWN)].join(", ");
            if names.len() > NAMES_SHOWN {
                list.push_str(&format!(" and {} more", names.len() - NAMES_SHOWN));
            }
            format!(
                "no restart supervisor runs on {host}: the restart policy of {list} is not \
                 carried out there (an init that dies stays stopped); start the fleet-node \
                 unit there (systemctl enable --now fleet-node, which `fleet bootstrap` does)"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use fleet_protocol::{RestartPolicy, RestartSpec};

    use crate::plan::fixture::{converged_observation, demo_on_a_and_b, diff_pinned, hello_mut};

    #[test]
    fn a_policy_on_a_host_without_a_supervisor_is_warned_about_naming_the_host() {
        let mut f = demo_on_a_and_b(&[("web-1", "a"), ("web-2", "b"), ("plain", "b")]);
        for c in &mut f.containers {
            if c.spec.name.starts_with("web") {
                c.spec.restart = RestartSpec {
                    policy: RestartPolicy::OnFailure,
                    max_retries: None,
                };
            }
        }
        let mut obs = converged_observation(&f);
        let n = hello_mut(&mut obs, "b");
        n.supervisor = None;
        let d = diff_pinned(&f, &obs);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            d.warnings,
            [
                "no restart supervisor runs on b: the restart policy of web-2 is not carried out \
              there (an init that dies stays stopped); start the fleet-node unit there \
              (systemctl enable --now fleet-node, which `fleet bootstrap` does)"
            ]
        );
    }
}
