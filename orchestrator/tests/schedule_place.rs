//! Placement, one fleet per case: where each container goes, or why it cannot go anywhere.

mod schedule_support;

use std::collections::BTreeMap;

use fleet::model::Fleet;
use fleet::schedule::{Assignment, Current, Infeasible, Origin, Strategy, place, place_with};
use fleet_protocol::Capacity;
use schedule_support::*;

/// Places `fleet` from `current` and compares with `want`, written `container=host ...`.
fn check(fleet: &Fleet, current_text: &str, want: &str) -> Assignment {
    let got = place(fleet, &BTreeMap::new(), &current(current_text))
        .unwrap_or_else(|e| panic!("placement failed: {e}"));
    assert_eq!(placed(&got), want);
    got
}

/// Where `a` puts each container, written `container=host ...`.
fn placed(a: &Assignment) -> String {
    a.bindings
        .iter()
        .map(|(c, b)| format!("{c}={}", b.host))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Places `fleet` expecting failure; compares the reasons, one `container: reason` per line.
fn check_err(fleet: &Fleet, want: &[&str]) -> Infeasible {
    let err = place(fleet, &BTreeMap::new(), &Current::new()).expect_err("placement should fail");
    let got: Vec<String> = err
        .unplaced
        .iter()
        .map(|u| format!("{}: {}", u.container, u.reason))
        .collect();
    assert_eq!(got, want);
    err
}

/// A placement case: what it shows, the fleet, what runs where, where everything goes and why
/// some are there.
type Case<'a> = (
    &'a str,
    &'a Fleet,
    &'a str,
    &'a str,
    &'a [(&'a str, Origin)],
);

/// Where each container goes from what runs where, and why it is there (its [`Origin`]).
#[test]
fn containers_stay_move_or_claim_their_pinned_room() {
    let moved = |from: &str| Origin::Moved { from: from.into() };
    // "a" sorts before "z" but z is pinned to h1, so a must go to h2.
    let pinned = fleet(
        vec![host("h1", 2, "4Gi", "10Gi"), host("h2", 2, "4Gi", "10Gi")],
        vec![
            ct("a", 100, "3Gi", "1Gi"),
            ct("z", 100, "3Gi", "1Gi").pin("h1"),
        ],
    );
    let small = fleet(
        alike_hosts(2),
        vec![ct("a", 100, "1Gi", "1Gi"), ct("b", 100, "1Gi", "1Gi")],
    );
    // a grew to 6Gi; h1 now holds b (kept first, by name order... b is after a, so a is
    // checked first and still fits; c does not fit next to it and moves).
    let grown = fleet(
        alike_hosts(2),
        vec![ct("a", 100, "6Gi", "1Gi"), ct("c", 100, "4Gi", "1Gi")],
    );
    let zoned = fleet(
        vec![
            host("h1", 4, "8Gi", "100Gi").labels(&[("zone", "a")]),
            host("h2", 4, "8Gi", "100Gi").labels(&[("zone", "b")]),
        ],
        vec![ct("a", 100, "1Gi", "1Gi").select(&[("zone", "b")])],
    );
    let cases: [Case; 5] = [
        (
            "pinned containers claim their room first",
            &pinned,
            "",
            "a=h2 z=h1",
            &[("z", Origin::Pinned), ("a", Origin::New)],
        ),
        (
            "packing alone would put both on h1; b runs on h2 and stays there",
            &small,
            "b=h2",
            "a=h2 b=h2",
            &[("b", Origin::Kept)],
        ),
        (
            "a container running on a host that left the fleet is placed anew and marked as moved",
            &small,
            "a=gone",
            "a=h1 b=h1",
            &[("a", moved("gone"))],
        ),
        (
            "a running container that no longer fits moves",
            &grown,
            "a=h1 c=h1",
            "a=h1 c=h2",
            &[("a", Origin::Kept), ("c", moved("h1"))],
        ),
        (
            "a running container leaves a host its selector no longer matches",
            &zoned,
            "a=h1",
            "a=h2",
            &[("a", moved("h1"))],
        ),
    ];
    for (case, f, running, want, origins) in cases {
        let a = place(f, &BTreeMap::new(), &current(running))
            .unwrap_or_else(|e| panic!("{case}: placement failed: {e}"));
        assert_eq!(placed(&a), want, "{case}");
        for (name, origin) in origins {
            assert_eq!(&a.bindings[*name].origin, origin, "{case}: {name}");
        }
    }
}

#[test]
fn cpu_and_memory_overcommit_multiply_capacity_but_disk_does_not() {
    // 1 CPU x 3.0 = 300%: three 100% containers fit on h1, filled first as the larger host;
    // the fourth spills to h2.
    let cpu = fleet(
        vec![
            host("h1", 1, "8Gi", "10Gi").overcommit(3.0, 1.0),
            host("h2", 1, "8Gi", "10Gi"),
        ],
        vec![
            ct("c1", 100, "1Gi", "1Gi"),
            ct("c2", 100, "1Gi", "1Gi"),
            ct("c3", 100, "1Gi", "1Gi"),
            ct("c4", 100, "1Gi", "1Gi"),
        ],
    );
    check(&cpu, "", "c1=h1 c2=h1 c3=h1 c4=h2");
    // 2Gi x 2.0 = 4Gi of memory: two 2Gi containers share h1.
    let memory = fleet(
        vec![host("h1", 8, "2Gi", "10Gi").overcommit(1.0, 2.0)],
        vec![ct("m1", 10, "2Gi", "1Gi"), ct("m2", 10, "2Gi", "1Gi")],
    );
    check(&memory, "", "m1=h1 m2=h1");
    // Disk is never overcommitted, whatever the ratios.
    let disk = fleet(
        vec![host("h1", 8, "8Gi", "10Gi").overcommit(10.0, 10.0)],
        vec![ct("d1", 10, "1Gi", "6Gi"), ct("d2", 10, "1Gi", "6Gi")],
    );
    check_err(
        &disk,
        &["d2: disk on every host is full: needs 6Gi, the most free is 4Gi on h1"],
    );
}

#[test]
fn label_selectors_restrict_hosts() {
    let f = fleet(
        vec![
            host("h1", 4, "8Gi", "100Gi").labels(&[("zone", "a")]),
            host("h2", 4, "8Gi", "100Gi").labels(&[("zone", "b"), ("ssd", "yes")]),
        ],
        vec![
            ct("db", 100, "1Gi", "10Gi").select(&[("ssd", "yes")]),
            ct("web", 100, "1Gi", "1Gi").select(&[("zone", "a")]),
        ],
    );
    check(&f, "", "db=h2 web=h1");
}

#[test]
fn spread_by_host_puts_a_group_on_distinct_hosts() {
    let hosts = || {
        vec![
            host("h1", 8, "16Gi", "100Gi"),
            host("h2", 8, "16Gi", "100Gi"),
            host("h3", 8, "16Gi", "100Gi"),
        ]
    };
    let f = fleet(
        hosts(),
        (1..=3)
            .map(|i| ct(&format!("db-{i}"), 100, "1Gi", "1Gi").spread("host", "db"))
            .collect(),
    );
    let a = check(&f, "", "db-1=h1 db-2=h2 db-3=h3");
    assert!(a.warnings.is_empty());
    // Without spread the packer stacks them on one host.
    let packed = fleet(
        hosts(),
        (1..=3)
            .map(|i| ct(&format!("db-{i}"), 100, "1Gi", "1Gi"))
            .collect(),
    );
    check(&packed, "", "db-1=h1 db-2=h1 db-3=h1");
}

#[test]
fn spread_by_zone_balances_and_warns_when_capacity_forbids_it() {
    let f = fleet(
        vec![
            host("a1", 8, "16Gi", "100Gi").labels(&[("zone", "a")]),
            host("a2", 8, "16Gi", "100Gi").labels(&[("zone", "a")]),
            host("b1", 8, "16Gi", "100Gi").labels(&[("zone", "b")]),
        ],
        (1..=4)
            .map(|i| ct(&format!("web-{i}"), 100, "1Gi", "1Gi").spread("zone", "web"))
            .collect(),
    );
    // Two per zone; within zone a the packer keeps them together on a1.
    check(&f, "", "web-1=a1 web-2=b1 web-3=a1 web-4=b1");

    // Zone b only fits one: web-1 fills b1 (best fit), then zone a takes the rest, with a
    // warning once zone a holds more than zone b.
    let tight = fleet(
        vec![
            host("a1", 8, "16Gi", "100Gi").labels(&[("zone", "a")]),
            host("b1", 8, "1Gi", "100Gi").labels(&[("zone", "b")]),
        ],
        (1..=4)
            .map(|i| ct(&format!("web-{i}"), 100, "1Gi", "1Gi").spread("zone", "web"))
            .collect(),
    );
    let a = check(&tight, "", "web-1=b1 web-2=a1 web-3=a1 web-4=a1");
    assert_eq!(
        a.warnings,
        [
            "web-4 goes to a1 (zone=a), which already holds 2 of group web: the zone values \
          holding fewer (1) have no room"
        ]
    );
}

#[test]
fn hosts_in_use_are_filled_before_empty_ones() {
    // h2 and h3 already hold pinned containers; b goes to one of them (the larger, h3) rather
    // than opening the empty h1.
    let f = fleet(
        vec![
            host("h1", 4, "4Gi", "100Gi"),
            host("h2", 4, "4Gi", "100Gi"),
            host("h3", 4, "8Gi", "100Gi"),
        ],
        vec![
            ct("a", 100, "3Gi", "1Gi").pin("h2"),
            ct("b", 100, "1Gi", "1Gi"),
            ct("x", 100, "6Gi", "1Gi").pin("h3"),
        ],
    );
    check(&f, "", "a=h2 b=h3 x=h3");
}

#[test]
fn first_fit_takes_hosts_in_name_order() {
    let f = fleet(
        vec![host("h1", 4, "4Gi", "100Gi"), host("h2", 4, "4Gi", "100Gi")],
        vec![ct("a", 100, "3Gi", "1Gi"), ct("b", 100, "2Gi", "1Gi")],
    );
    let options = fleet::schedule::Options {
        strategy: Strategy::FirstFit,
        ..Default::default()
    };
    let a = place_with(&f, &BTreeMap::new(), &Current::new(), &options).unwrap();
    assert_eq!(a.host_of("a"), Some("h1"));
    assert_eq!(a.host_of("b"), Some("h2"));
}

#[test]
fn capacity_left_out_of_the_spec_comes_from_the_node() {
    let f = fleet(
        vec![unknown_host("h1"), unknown_host("h2")],
        vec![ct("a", 100, "1Gi", "1Gi")],
    );
    check_err(
        &f,
        &[
            "a: the capacity of every host is unknown: declare it in the spec or let the node \
           report it",
        ],
    );
    let observed = BTreeMap::from([(
        "h2".to_string(),
        Capacity::measured(2, size("2Gi"), size("10Gi")),
    )]);
    let a = place(&f, &observed, &Current::new()).unwrap();
    assert_eq!(a.host_of("a"), Some("h2"));
}

#[test]
fn infeasible_input_names_each_container_and_its_constraint() {
    let f = fleet(
        vec![
            host("a1", 4, "4Gi", "100Gi").labels(&[("zone", "a")]),
            host("a2", 4, "4Gi", "100Gi").labels(&[("zone", "a")]),
            host("b1", 4, "16Gi", "100Gi").labels(&[("zone", "b")]),
        ],
        vec![
            ct("big", 100, "64Gi", "1Gi"),
            ct("fill-1", 100, "4Gi", "1Gi").pin("a1"),
            ct("fill-2", 100, "3Gi", "1Gi").pin("a2"),
            ct("ghost", 100, "1Gi", "1Gi").pin("nowhere"),
            ct("nomatch", 100, "1Gi", "1Gi").select(&[("zone", "c")]),
            ct("over", 100, "2Gi", "1Gi").pin("a2"),
            ct("za", 100, "2Gi", "1Gi").select(&[("zone", "a")]),
        ],
    );
    let err = check_err(
        &f,
        &[
            "big: needs 64Gi memory, more than any host in every host can hold (largest: 16Gi on b1)",
            "ghost: pinned to host nowhere, which the fleet does not declare",
            "nomatch: no schedulable host matches selector zone=c (zone is one of a, b)",
            "over: pinned to host a2, but memory there is full: needs 2Gi, 1Gi free of 4Gi",
            "za: memory on every host with zone=a is full: needs 2Gi, the most free is 1Gi on a2",
        ],
    );
    // The rest is still placed, and the message lists every container.
    assert_eq!(err.partial.host_of("fill-1"), Some("a1"));
    assert!(
        err.to_string()
            .starts_with("5 containers cannot be placed:\n  big: ")
    );
}

#[test]
fn mixed_shortages_are_listed_per_resource() {
    let f = fleet(
        vec![host("h1", 1, "8Gi", "100Gi"), host("h2", 8, "1Gi", "100Gi")],
        vec![
            ct("a", 100, "1Gi", "1Gi").pin("h1"),
            ct("b", 100, "1Gi", "1Gi").pin("h2"),
            ct("c", 100, "1Gi", "1Gi"),
        ],
    );
    check_err(
        &f,
        &[
            "c: no host in every host has room for cpu 100%, memory 1Gi, disk 1Gi: cpu full on \
           h1; memory full on h2",
        ],
    );
}

#[test]
fn the_same_input_gives_the_same_placement() {
    let f = fleet(
        (1..=5)
            .map(|i| host(&format!("h{i}"), 8, "8Gi", "100Gi"))
            .collect(),
        (1..=40)
            .map(|i| ct(&format!("c{i:02}"), 25 * (i % 4 + 1), "512Mi", "1Gi"))
            .collect(),
    );
    let first = place(&f, &BTreeMap::new(), &Current::new()).unwrap();
    for _ in 0..3 {
        assert_eq!(place(&f, &BTreeMap::new(), &Current::new()).unwrap(), first);
    }
}
