//! Privileged containers and user namespaces in the plan: the restart into a range of its own,
//! the warning by name, a host without free uid ranges (for a create and for a move in).

use super::super::fixture::{
    containers_mut, converged_observation, demo_on_a, empty_observation, hello_mut,
};
use super::{make, plans, two_hosts};
use crate::diff::DiffOptions;
use crate::plan::render;

#[test]
fn an_old_privileged_container_restarts_into_its_own_range_with_a_note() {
    // What a node reports for a container made before unprivileged became the default: its
    // stored config reads as privileged.
    let f = two_hosts();
    let mut obs = converged_observation(&f);
    let containers = containers_mut(&mut obs, "a");
    containers[0].spec.privileged = true;
    plans(
        &f,
        &obs,
        "
a:
  ! web-1 (restart for privileged; becomes unprivileged: at the restart its files move into a uid range of its own (a container made before unprivileged became the default was privileged))
      privileged: true -> false
Plan: 0 to create, 0 to update live, 1 to restart, 0 to destroy.",
    );
}

#[test]
fn privileged_containers_are_warned_about_by_name() {
    let mut f = two_hosts();
    f.containers[1].spec.privileged = true;
    let obs = converged_observation(&f);
    f.containers[0].spec.privileged = true;
    let plan = make(&f, &obs, DiffOptions::default());
    let text = render::text(&plan);
    assert!(
        text.contains("! web-1 (restart for privileged; becomes privileged: at the restart its files move to host ids)"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: web-1 on a is privileged: its root is host root (no user namespace), so \
             whatever escapes it is root on a; drop privileged: true unless it must own host resources"
        ),
        "{text}"
    );
    // Only containers with work in the plan: web-2 is privileged and already in sync.
    assert!(!text.contains("web-2 on b"), "{text}");
    assert_eq!(render::json(&plan)["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn a_host_without_free_uid_ranges_refuses_what_needs_one_and_plans_the_rest() {
    let mut f = demo_on_a(&["web-1", "web-2", "root"]);
    f.containers[0].spec.privileged = true; // "root", sorted first: needs no range
    let mut obs = empty_observation(&f);
    hello_mut(&mut obs, "a").capacity.uid_ranges_free = Some(1);
    let plan = make(&f, &obs, DiffOptions::default());
    let text = render::text(&plan);
    assert!(text.contains("+ root (create)"), "{text}");
    assert!(text.contains("+ web-1 (create)"), "{text}");
    assert!(!text.contains("+ web-2"), "{text}");
    assert!(
        text.contains(
            "web-2 on a: privileged: false needs a uid range of its own and a has none free"
        ),
        "{text}"
    );
}

#[test]
fn a_move_to_a_host_without_free_uid_ranges_is_refused_and_the_container_stays() {
    // web-1 runs on b with a disk; the spec pins it to a, whose node has no range left.
    let mut f = super::two_hosts();
    f.containers[0].spec.resources.disk_space = Some(1 << 30);
    let mut obs = empty_observation(&f);
    super::put(&mut obs, "b", super::running(&f.containers[0].spec, 9));
    super::put(&mut obs, "b", super::running(&f.containers[1].spec, 10));
    let plan_text =
        |obs: &crate::diff::Observed| render::text(&make(&f, obs, DiffOptions::default()));
    assert!(
        plan_text(&obs).contains("> web-1 (move b -> a"),
        "{}",
        plan_text(&obs)
    );
    hello_mut(&mut obs, "a").capacity.uid_ranges_free = Some(0);
    let text = plan_text(&obs);
    assert!(!text.contains("> web-1"), "{text}");
    assert!(
        text.contains(
            "web-1 on a: privileged: false needs a uid range of its own and a has none free"
        ),
        "{text}"
    );
}
