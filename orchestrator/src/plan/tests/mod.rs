//! Data-driven tests of diff and plan together: desired and observed state in, plan text out.
//! The shared set-up and the field and lifecycle changes are here; `waves.rs` orders
//! dependencies, `privileged.rs` plans user namespaces.

use fleet_protocol::{Action, ContainerState, DesiredState, TemplateRef};

use super::fixture::{
    containers_mut, converged_observation, demo_on_a, demo_on_a_and_b, empty_observation,
    hello_mut, pinned_assignment, running, spec,
};
use super::{Plan, StepKind, plan, render};
use crate::diff::{DiffOptions, HostObservation, Observed, diff};
use crate::model::Fleet;

mod privileged;
mod waves;

fn make(fleet: &Fleet, observed: &Observed, opts: DiffOptions) -> Plan {
    let d = diff(fleet, &pinned_assignment(fleet), &[], observed, opts);
    plan(fleet, d).expect("plan")
}

#[track_caller]
fn check(fleet: &Fleet, observed: &Observed, opts: DiffOptions, expect: &str) {
    let got = render::text(&make(fleet, observed, opts));
    assert_eq!(got.trim(), expect.trim(), "\n--- got ---\n{got}");
}

/// [`check`] with the default options.
fn plans(fleet: &Fleet, observed: &Observed, expect: &str) {
    check(fleet, observed, DiffOptions::default(), expect);
}

fn put(observed: &mut Observed, host: &str, status: fleet_protocol::ContainerStatus) {
    containers_mut(observed, host).push(status);
}

/// `obs` with more containers running, each (host, fleet, name), each with its own init pid.
fn with_running(mut obs: Observed, containers: &[(&str, &str, &str)]) -> Observed {
    for (pid, (host, fleet, name)) in (7..).zip(containers) {
        put(&mut obs, host, running(&spec(fleet, name), pid));
    }
    obs
}

/// The options of `--prune`.
fn pruning() -> DiffOptions {
    DiffOptions {
        prune: true,
        ..DiffOptions::default()
    }
}

fn two_hosts() -> Fleet {
    demo_on_a_and_b(&[("web-1", "a"), ("web-2", "b")])
}

#[test]
fn empty_hosts_get_creates() {
    let f = two_hosts();
    check(
        &f,
        &empty_observation(&f),
        DiffOptions::default(),
        "
a:
  + web-1 (create)
b:
  + web-2 (create)
Plan: 2 to create, 0 to update live, 0 to restart, 0 to destroy.",
    );
}

#[test]
fn converged_state_has_no_changes() {
    let f = two_hosts();
    check(
        &f,
        &converged_observation(&f),
        DiffOptions::default(),
        "No changes.",
    );
}

#[test]
fn limit_drift_read_from_the_kernel_is_a_live_update() {
    let f = two_hosts();
    let mut obs = converged_observation(&f);
    let containers = containers_mut(&mut obs, "a");
    containers[0].live.memory = Some(32 << 20);
    containers[0].live.pids = Some(50);
    plans(
        &f,
        &obs,
        "
a:
  ~ web-1 (update live)
      memory: 32Mi -> 64Mi
      pids: 50 -> unset
Plan: 0 to create, 1 to update live, 0 to restart, 0 to destroy.",
    );
}

#[test]
fn unreadable_live_value_falls_back_to_the_stored_spec() {
    let f = two_hosts();
    let mut obs = converged_observation(&f);
    containers_mut(&mut obs, "a")[0].live.memory = None;
    check(&f, &obs, DiffOptions::default(), "No changes.");
}

#[test]
fn address_changes_are_live_and_another_bridge_restarts() {
    use fleet_protocol::{NetworkMode, NetworkSpec};
    let net = |bridge: &str, address: &str| NetworkSpec {
        mode: NetworkMode::Bridged,
        bridge: Some(bridge.into()),
        addresses: vec![address.into()],
        gateway: Some("10.0.0.1".into()),
    };
    let mut f = two_hosts();
    f.containers[0].spec.network = net("fleet0", "10.0.0.5/24");
    f.containers[1].spec.network = net("fleet0", "10.0.0.6/24");
    let obs = converged_observation(&f);
    f.containers[0].spec.network = net("fleet0", "10.0.0.7/24");
    f.containers[1].spec.network = net("fleet1", "10.0.0.6/24");
    plans(
        &f,
        &obs,
        r#"
a:
  ~ web-1 (update live)
      network.addresses: ["10.0.0.5/24"] -> ["10.0.0.7/24"]
b:
  ! web-2 (restart for network)
      network: {"mode":"bridged","bridge":"fleet0","addresses":["10.0.0.6/24"],"gateway":"10.0.0.1"} -> {"mode":"bridged","bridge":"fleet1","addresses":["10.0.0.6/24"],"gateway":"10.0.0.1"}
Plan: 0 to create, 1 to update live, 1 to restart, 0 to destroy."#,
    );
}

#[test]
fn restart_names_the_fields_that_force_it() {
    let mut f = two_hosts();
    let obs = converged_observation(&f);
    f.containers[0].spec.command = vec!["/bin/sleep".into(), "5".into()];
    f.containers[0].spec.resources.cpu_limit = Some(150);
    f.containers[1].spec.template = TemplateRef::Host;
    plans(
        &f,
        &obs,
        r#"
a:
  ! web-1 (restart for command)
      cpu.limit: unset -> 150%
      command: ["/bin/sleep","100000"] -> ["/bin/sleep","5"]
b:
  -/+ web-2 (recreate for template; its data is lost)
      template: busybox -> host
Plan: 1 to create, 0 to update live, 1 to restart, 1 to destroy."#,
    );
}

#[test]
fn disk_grows_live_and_shrinks_with_restart() {
    let mut f = two_hosts();
    f.containers[0].spec.resources.disk_space = Some(1 << 30);
    f.containers[1].spec.resources.disk_space = Some(1 << 30);
    let mut obs = converged_observation(&f);
    f.containers[0].spec.resources.disk_space = Some(2 << 30);
    f.containers[1].spec.resources.disk_space = Some(512 << 20);
    let _ = &mut obs;
    plans(
        &f,
        &obs,
        "
a:
  ~ web-1 (update live)
      disk.space: 1Gi -> 2Gi
b:
  ! web-2 (restart for disk.space)
      disk.space: 1Gi -> 512Mi
Plan: 0 to create, 1 to update live, 1 to restart, 0 to destroy.",
    );
}

#[test]
fn disk_grow_is_a_restart_on_a_host_that_cannot_resize_online() {
    let mut f = two_hosts();
    f.containers[0].spec.resources.disk_space = Some(1 << 30);
    let mut obs = converged_observation(&f);
    f.containers[0].spec.resources.disk_space = Some(2 << 30);
    let n = hello_mut(&mut obs, "a");
    n.features.online_disk_grow = false;
    plans(
        &f,
        &obs,
        "
a:
  ! web-1 (restart for disk.space)
      disk.space: 1Gi -> 2Gi
Plan: 0 to create, 0 to update live, 1 to restart, 0 to destroy.",
    );
}

#[test]
fn start_stop_and_repair() {
    let mut f = demo_on_a(&["broken", "down", "up"]);
    let mut obs = converged_observation(&f);
    let containers = containers_mut(&mut obs, "a");
    containers[0].state = ContainerState::Broken;
    containers[1].state = ContainerState::Stopped;
    containers[1].init_pid = None;
    f.containers[2].spec.state = DesiredState::Stopped;
    let p = make(&f, &obs, DiffOptions::default());
    plans(
        &f,
        &obs,
        "
a:
  + broken (create; repair: found half-made)
  ~ down (start)
  ~ up (stop)
Plan: 1 to create, 2 to update live, 0 to restart, 0 to destroy.",
    );
    let stop = p.steps.iter().find(|s| s.kind == StepKind::Stop).unwrap();
    assert!(matches!(stop.actions[..], [Action::Stop { .. }]));
}

#[test]
fn extras_are_kept_without_prune_and_destroyed_with_it_other_fleets_never() {
    let f = two_hosts();
    let obs = with_running(
        converged_observation(&f),
        &[("a", "demo", "old-1"), ("b", "someone-else", "theirs")],
    );
    plans(
        &f,
        &obs,
        "
Not in spec (1 kept; pass --prune to destroy them):
  a: old-1
No changes.",
    );
    check(
        &f,
        &obs,
        pruning(),
        "
a:
  - old-1 (destroy)
Plan: 0 to create, 0 to update live, 0 to restart, 1 to destroy.",
    );
}

#[test]
fn name_taken_by_another_fleet_is_refused() {
    let f = two_hosts();
    let obs = with_running(empty_observation(&f), &[("a", "other", "web-1")]);
    plans(
        &f,
        &obs,
        r#"
b:
  + web-2 (create)
Refused (left as they are):
  web-1 on a: a container of that name on a belongs to fleet "other"; rename one of them
Plan: 1 to create, 0 to update live, 0 to restart, 0 to destroy; 1 refused."#,
    );
}

#[test]
fn a_move_without_a_disk_is_refused_unless_recreate_is_allowed() {
    let f = two_hosts();
    // Both ran on b; the spec puts web-1 on a.
    let obs = converged_observation(&demo_on_a_and_b(&[("web-1", "b"), ("web-2", "b")]));
    plans(
        &f,
        &obs,
        "
Refused (left as they are):
  web-1 on a: moves from b to a, but it has no disk image to move (its files are in b's store): give it resources.disk_space first (a restart), or pass --allow-recreate to destroy it on b and create it on a (its data is lost)
No changes planned; 1 refused.",
    );
    let opts = DiffOptions {
        allow_recreate: true,
        ..DiffOptions::default()
    };
    check(
        &f,
        &obs,
        opts,
        "
a:
  + web-1 (create; moved from b; its data is lost)
b:
  - web-1 (destroy; moves to a; its data is lost)
Plan: 1 to create, 0 to update live, 0 to restart, 1 to destroy.",
    );
    let p = make(&f, &obs, opts);
    let create = p.steps.iter().find(|s| s.kind == StepKind::Create).unwrap();
    let destroy = p
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Destroy)
        .unwrap();
    assert_eq!(create.after, vec![destroy.id]);
    assert_eq!((destroy.wave, create.wave), (0, 1));
}

#[test]
fn unreachable_host_is_reported_and_the_rest_planned() {
    let f = two_hosts();
    let mut obs = empty_observation(&f);
    obs.hosts.insert(
        "b".into(),
        HostObservation::Unreachable {
            error: "connection refused".into(),
        },
    );
    check(
        &f,
        &obs,
        pruning(),
        "
a:
  + web-1 (create)
b: unreachable (connection refused); nothing on it is touched, 1 container(s) not planned
Plan: 1 to create, 0 to update live, 0 to restart, 0 to destroy; 1 not planned on 1 unreachable host(s).",
    );
}

#[test]
fn every_host_unreachable_is_not_no_changes() {
    let f = two_hosts();
    let mut obs = empty_observation(&f);
    for h in ["a", "b"] {
        obs.hosts.insert(
            h.into(),
            HostObservation::Unreachable {
                error: "connection refused".into(),
            },
        );
    }
    plans(
        &f,
        &obs,
        "
a: unreachable (connection refused); nothing on it is touched, 1 container(s) not planned
b: unreachable (connection refused); nothing on it is touched, 1 container(s) not planned
No changes planned; 2 not planned on 2 unreachable host(s).",
    );
}
