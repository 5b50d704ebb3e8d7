//! Waves: `depends_on` across hosts orders batches, within one host it does not, and a large
//! fleet plans the same twice.

use super::super::fixture::{
    converged_observation, demo_on_a_and_b, empty_observation, large, running,
};
use super::{make, put, two_hosts};
use crate::diff::DiffOptions;
use crate::plan::render;

#[test]
fn dependencies_order_waves_across_hosts_but_not_within_one() {
    let mut f = demo_on_a_and_b(&[("db", "a"), ("cache", "a"), ("app", "b")]);
    // app (b) needs db (a); db needs cache on its own host.
    f.containers
        .iter_mut()
        .find(|c| c.spec.name == "app")
        .unwrap()
        .depends_on = vec!["db".into()];
    f.containers
        .iter_mut()
        .find(|c| c.spec.name == "db")
        .unwrap()
        .depends_on = vec!["cache".into()];
    let p = make(&f, &empty_observation(&f), DiffOptions::default());
    let batches: Vec<(usize, &str, Vec<&str>)> = p
        .batches
        .iter()
        .map(|b| {
            (
                b.wave,
                b.host.as_str(),
                b.steps
                    .iter()
                    .map(|&s| p.steps[s].change.name.as_str())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        batches,
        vec![(0, "a", vec!["cache", "db"]), (1, "b", vec!["app"])]
    );
    let json = render::json(&p);
    assert_eq!(json["summary"]["create"], 3);
    assert_eq!(json["waves"], 2);
    assert_eq!(json["steps"][2]["after"][0], "db");
}

#[test]
fn dependency_already_running_adds_no_wave() {
    let mut f = two_hosts();
    f.containers[1].depends_on = vec!["web-1".into()];
    let mut obs = empty_observation(&f);
    put(&mut obs, "a", running(&f.containers[0].spec, 5));
    let p = make(&f, &obs, DiffOptions::default());
    assert_eq!(p.waves(), 1);
}

#[test]
fn plan_is_idempotent_over_a_large_fleet() {
    let f = large(50, 1000);
    let first = make(&f, &empty_observation(&f), DiffOptions::default());
    assert_eq!(first.summary().create, 1000);
    // One in ten containers depends on one on the next host: two waves.
    assert_eq!(first.waves(), 2);
    let again = make(&f, &converged_observation(&f), DiffOptions::default());
    assert!(again.is_empty());
    assert_eq!(again.diff.in_sync.len(), 1000);
}
