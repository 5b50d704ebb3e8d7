//! `fleet clone` plans against observations built from in-memory nodes: the clone goes beside
//! its source with the spec's entry; a name the spec lacks, a name taken, a name that an
//! unreachable host may hold, a pin elsewhere and a host without room are refused.

use super::clone::{CloneError, plan};
use super::targeted_tests::free;
use crate::diff::HostObservation;
use crate::model::DesiredContainer;
use crate::plan::fixture::{capacity, fleet, host};

/// Hosts a and b; `db` runs on a, `db-copy` is in the spec and nowhere yet, `web` runs on b.
fn setup() -> (crate::model::Fleet, crate::diff::Observed) {
    let f = fleet(
        "demo",
        vec![host("a"), host("b")],
        vec![free("db"), free("db-copy"), free("web")],
    );
    let nodes = super::tests::nodes(&["a", "b"]);
    super::tests::running_on(&nodes["a"], f.container("db").unwrap(), "data");
    super::tests::running_on(&nodes["b"], f.container("web").unwrap(), "data");
    (f, super::tests::observe(&nodes))
}

fn copy(f: &mut crate::model::Fleet) -> &mut DesiredContainer {
    f.containers
        .iter_mut()
        .find(|c| c.spec.name == "db-copy")
        .unwrap()
}

#[test]
fn a_clone_is_the_specs_entry_made_beside_its_source() {
    let (f, observed) = setup();
    let p = plan(&f, &observed, "db", "a", "db-copy").unwrap();
    assert_eq!(p.host, "a");
    assert_eq!(p.spec, f.container("db-copy").unwrap().spec);
}

#[test]
fn a_clone_without_an_entry_a_taken_name_a_pin_elsewhere_or_no_room_is_refused() {
    let (mut f, observed) = setup();
    let err = plan(&f, &observed, "db", "a", "db-cpy").unwrap_err();
    assert!(matches!(err, CloneError::NotInSpec { .. }), "{err}");
    assert!(
        err.to_string().contains("did you mean \"db-copy\"?"),
        "{err}"
    );
    assert!(err.to_string().contains("Not in spec"), "{err}");

    let err = plan(&f, &observed, "db", "a", "web").unwrap_err();
    assert_eq!(
        err.to_string(),
        "container \"web\" already exists on b (fleet demo); choose another name, or destroy \
         that one first"
    );

    let mut silent = observed.clone();
    silent.hosts.insert(
        "b".into(),
        HostObservation::Unreachable {
            error: "connection refused".into(),
        },
    );
    let err = plan(&f, &silent, "db", "a", "db-copy").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot tell whether \"db-copy\" exists already: b did not answer (connection refused); \
         a clone beside a container of the same name elsewhere would leave two copies for the \
         next plan to choose between, so clone when every host of the fleet answers"
    );

    copy(&mut f).host = Some("b".into());
    let err = plan(&f, &observed, "db", "a", "db-copy").unwrap_err();
    assert!(matches!(err, CloneError::PinnedElsewhere { .. }), "{err}");
    copy(&mut f).host = None;

    let mut full = observed.clone();
    if let Some(HostObservation::Reachable { node: Some(n), .. }) = full.hosts.get_mut("a") {
        n.capacity = capacity(64, 1 << 40, 1 << 29);
    }
    let err = plan(&f, &full, "db", "a", "db-copy").unwrap_err();
    assert!(
        matches!(&err, CloneError::NoRoom { reason, .. } if reason.contains("disk")),
        "{err}"
    );
}
