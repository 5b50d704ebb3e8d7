//! `fleet drain` and `fleet move` plans, against observations built from in-memory nodes: only
//! the moves asked for, pinned containers refused with why, unknown names an error, and a host
//! without room a refusal.

use super::targeted::{TargetError, drain, move_one};
use crate::diff::HostObservation;
use crate::model::DesiredContainer;
use crate::plan::fixture::{capacity, fleet, host, pinned, spec};
use crate::plan::{StepKind, render};

/// A container of fleet `demo` with a 1 GiB disk that the spec does not pin.
pub(super) fn free(name: &str) -> DesiredContainer {
    let mut s = spec("demo", name);
    s.resources.disk_space = Some(1 << 30);
    let mut c = pinned(s, "a");
    c.host = None;
    c
}

/// Hosts a, b, c; `web-1` and `web-2` unplaced by the spec, running on a; `db` pinned to a;
/// `other` running on c with a drifted memory limit (which a drain must leave alone).
fn setup() -> (crate::model::Fleet, crate::diff::Observed) {
    let mut db = free("db");
    db.host = Some("a".into());
    let mut other = free("other");
    other.host = Some("c".into());
    let f = fleet(
        "demo",
        vec![host("a"), host("b"), host("c")],
        vec![free("web-1"), free("web-2"), db, other.clone()],
    );
    let nodes = super::tests::nodes(&["a", "b", "c"]);
    for c in &f.containers {
        let on = if c.spec.name == "other" { "c" } else { "a" };
        super::tests::running_on(&nodes[on], c, "data");
    }
    if let Some(h) = nodes["c"].state().containers.get_mut("other") {
        h.spec.resources.memory = Some(1 << 20);
    }
    (f, super::tests::observe(&nodes))
}

#[test]
fn drain_moves_what_runs_on_the_host_and_refuses_what_the_spec_pins_there() {
    let (f, observed) = setup();
    let p = drain(&f, &observed, "a").unwrap();
    let moves: Vec<(&str, &str)> = p
        .steps
        .iter()
        .map(|s| {
            assert_eq!(s.kind, StepKind::Move);
            assert_eq!(s.change.from.as_deref(), Some("a"));
            (s.change.name.as_str(), s.change.host.as_str())
        })
        .collect();
    assert_eq!(moves.len(), 2, "{}", render::text(&p));
    assert!(moves.iter().all(|(_, to)| *to != "a"), "{moves:?}");
    assert_eq!(p.diff.refused.len(), 1, "{:?}", p.diff.refused);
    assert_eq!(p.diff.refused[0].name, "db");
    assert!(p.diff.refused[0].reason.contains("the spec pins it to a"));
    // The drifted container elsewhere is not this command's business.
    assert!(p.steps.iter().all(|s| s.change.name != "other"));
}

#[test]
fn drain_of_an_unknown_host_or_onto_full_hosts_changes_nothing() {
    let (f, observed) = setup();
    let err = drain(&f, &observed, "nowhere").unwrap_err();
    assert_eq!(
        err,
        TargetError::UnknownHost {
            host: "nowhere".into(),
            known: "a, b, c".into()
        }
    );
    assert!(err.to_string().contains("(hosts: a, b, c)"));
    let mut full = observed.clone();
    for h in ["b", "c"] {
        if let Some(HostObservation::Reachable { node: Some(n), .. }) = full.hosts.get_mut(h) {
            n.capacity = capacity(1, 1 << 30, 1 << 20);
        }
    }
    let p = drain(&f, &full, "a").unwrap();
    assert!(p.is_empty(), "{}", render::text(&p));
    assert!(
        p.diff
            .refused
            .iter()
            .any(|r| r.name == "web-1" && r.reason.contains("cannot be placed")),
        "{:?}",
        p.diff.refused
    );
}

#[test]
fn move_takes_one_container_where_asked_and_refuses_a_pinned_one() {
    let (f, observed) = setup();
    let p = move_one(&f, &observed, "web-2", "c").unwrap();
    assert_eq!(p.steps.len(), 1, "{}", render::text(&p));
    assert_eq!(p.steps[0].change.name, "web-2");
    assert_eq!(p.steps[0].change.host, "c");
    let p = move_one(&f, &observed, "db", "b").unwrap();
    assert!(p.is_empty());
    assert!(p.diff.refused[0].reason.contains("the spec pins it to a"));
    let err = move_one(&f, &observed, "web-3", "b").unwrap_err();
    assert!(err.to_string().contains("did you mean"), "{err}");
    assert!(matches!(
        move_one(&f, &observed, "web-1", "z"),
        Err(TargetError::UnknownHost { .. })
    ));
}
