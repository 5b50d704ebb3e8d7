//! Property: plan, apply, plan again, expect nothing to do; and another fleet's containers come
//! through untouched. The node is modelled (its real behaviour is tested end to end in
//! tests/apply_*.rs); what is under test here is that diff and plan together always converge.

use std::collections::BTreeMap;

use fleet_protocol::{Action, ContainerState, ContainerStatus, DesiredState, TemplateRef};
use proptest::prelude::*;

use super::fixture::{fleet, host, pinned, running, spec};
use super::plan;
use crate::diff::{Assignment, DiffOptions, HostObservation, Observed, diff};

/// A node that does exactly what each action says.
fn execute(observed: &mut Observed, host: &str, action: &Action) {
    let Some(HostObservation::Reachable { containers, .. }) = observed.hosts.get_mut(host) else {
        return;
    };
    let find = |cs: &mut Vec<ContainerStatus>, name: &str| cs.iter().position(|c| c.name == name);
    match action {
        Action::Create { spec } => {
            if let Some(i) = find(containers, &spec.name) {
                containers.remove(i);
            }
            let mut s = running(spec, 1);
            if spec.state == DesiredState::Stopped {
                s.state = ContainerState::Stopped;
            }
            containers.push(s);
        }
        Action::Update { spec, .. } => {
            if let Some(i) = find(containers, &spec.name) {
                containers[i].spec = spec.clone();
                containers[i].live = spec.resources.clone();
            }
        }
        Action::Start { name } => {
            if let Some(i) = find(containers, name) {
                containers[i].state = ContainerState::Running;
            }
        }
        Action::Stop { name, .. } => {
            if let Some(i) = find(containers, name) {
                containers[i].state = ContainerState::Stopped;
            }
        }
        Action::Destroy { name } => {
            if let Some(i) = find(containers, name) {
                containers.remove(i);
            }
        }
    }
}

/// What a container may look like on a host before the run.
#[derive(Debug, Clone)]
enum Found {
    Absent,
    Same,
    Drifted(u64),
    Stopped,
    Broken,
    OtherTemplate,
    OtherCommand,
    OnOtherHost,
}

fn found() -> impl Strategy<Value = Found> {
    prop_oneof![
        Just(Found::Absent),
        Just(Found::Same),
        (1u64..512).prop_map(|m| Found::Drifted(m << 20)),
        Just(Found::Stopped),
        Just(Found::Broken),
        Just(Found::OtherTemplate),
        Just(Found::OtherCommand),
        Just(Found::OnOtherHost),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn apply_then_plan_again_has_nothing_to_do(
        containers in proptest::collection::vec((0usize..3, found(), any::<bool>(), 0usize..4), 1..25),
        extras in 0usize..4,
    ) {
        let hosts = ["a", "b", "c"];
        let mut desired = Vec::new();
        let mut obs = Observed {
            hosts: hosts
                .iter()
                .map(|h| (h.to_string(), HostObservation::Reachable { node: None, containers: Vec::new() }))
                .collect(),
        };
        let push = |obs: &mut Observed, h: &str, s: ContainerStatus| {
            if let Some(HostObservation::Reachable { containers, .. }) = obs.hosts.get_mut(h) {
                containers.push(s);
            }
        };
        for (i, (h, f, stopped, dep)) in containers.iter().enumerate() {
            let name = format!("c{i:02}");
            let mut s = spec("f", &name);
            if *stopped {
                s.state = DesiredState::Stopped;
            }
            let mut d = pinned(s.clone(), hosts[*h]);
            if *dep < i {
                d.depends_on.push(format!("c{dep:02}"));
            }
            desired.push(d);
            let mut seen = running(&s, 10 + i as i32);
            match f {
                Found::Absent => continue,
                Found::Same => {}
                Found::Drifted(m) => seen.live.memory = Some(*m),
                Found::Stopped => seen.state = ContainerState::Stopped,
                Found::Broken => seen.state = ContainerState::Broken,
                Found::OtherTemplate => seen.spec.template = TemplateRef::Host,
                Found::OtherCommand => seen.spec.command = vec!["/bin/true".into()],
                Found::OnOtherHost => {
                    push(&mut obs, hosts[(h + 1) % 3], seen);
                    continue;
                }
            }
            push(&mut obs, hosts[*h], seen);
        }
        for e in 0..extras {
            push(&mut obs, hosts[e % 3], running(&spec("f", &format!("extra{e}")), 99));
            push(&mut obs, hosts[e % 3], running(&spec("other", &format!("theirs{e}")), 98));
        }
        let f = fleet("f", hosts.iter().map(|h| host(h)).collect(), desired);
        let assignment: Assignment = f
            .containers
            .iter()
            .map(|c| (c.spec.name.clone(), c.host.clone().unwrap_or_default()))
            .collect();
        let opts = DiffOptions { prune: true, allow_recreate: true };
        let theirs_before: BTreeMap<String, Vec<ContainerStatus>> = obs.hosts.iter().map(|(h, o)| {
            let HostObservation::Reachable { containers, .. } = o else { unreachable!() };
            (h.clone(), containers.iter().filter(|c| c.fleet == "other").cloned().collect())
        }).collect();

        let p = plan(&f, diff(&f, &assignment, &[], &obs, opts)).expect("no cycles: deps point backwards");
        for batch in &p.batches {
            for &id in &batch.steps {
                for action in &p.steps[id].actions {
                    execute(&mut obs, &batch.host, action);
                }
            }
        }
        let again = plan(&f, diff(&f, &assignment, &[], &obs, opts)).unwrap();
        prop_assert!(again.is_empty(), "second plan not empty:\n{}", super::render::text(&again));
        prop_assert_eq!(again.diff.in_sync.len(), f.containers.len());
        for (h, o) in &obs.hosts {
            let HostObservation::Reachable { containers, .. } = o else { unreachable!() };
            let theirs: Vec<ContainerStatus> =
                containers.iter().filter(|c| c.fleet == "other").cloned().collect();
            prop_assert_eq!(&theirs, &theirs_before[h]);
        }
    }
}
