//! Properties of placement over random fleets: capacity and selectors always hold, the same
//! input gives the same output, and adding a container never moves the others.

mod schedule_support;

use std::collections::BTreeMap;

use fleet::model::{DesiredContainer, Fleet};
use fleet::schedule::{Assignment, Current, DemandDefaults, all_limits, demand, place};
use proptest::prelude::*;
use schedule_support::*;

fn arb_fleet() -> impl Strategy<Value = Fleet> {
    let hosts = prop::collection::vec((1u32..8, 1u64..16, 0usize..3), 1..6);
    let containers = prop::collection::vec(
        (
            1u32..400,
            64u64..4096,
            0usize..4,
            prop::option::of(0usize..3),
        ),
        0..40,
    );
    (hosts, containers).prop_map(|(hosts, containers)| {
        let zones = ["a", "b", "c"];
        let hosts = hosts
            .into_iter()
            .enumerate()
            .map(|(i, (cpus, gib, zone))| {
                host(&format!("h{i}"), cpus, &format!("{gib}Gi"), "100Gi")
                    .labels(&[("zone", zones[zone])])
            })
            .collect();
        let containers = containers
            .into_iter()
            .enumerate()
            .map(|(i, (cpu, mib, kind, zone))| {
                let c = ct(&format!("c{i:03}"), cpu, &format!("{mib}Mi"), "1Gi");
                let c = match zone {
                    Some(z) => c.select(&[("zone", zones[z])]),
                    None => c,
                };
                match kind {
                    0 => c.spread("host", "g0"),
                    1 => c.spread("zone", "g1"),
                    _ => c,
                }
            })
            .collect();
        fleet(hosts, containers)
    })
}

fn placed(fleet: &Fleet, current: &Current) -> Assignment {
    match place(fleet, &BTreeMap::new(), current) {
        Ok(a) => a,
        Err(e) => e.partial,
    }
}

fn assert_valid(fleet: &Fleet, a: &Assignment) {
    let limits = all_limits(&fleet.hosts, &BTreeMap::new());
    for h in &fleet.hosts {
        let alloc = limits[&h.name].allocatable.unwrap();
        let mut used = fleet::schedule::Amounts::default();
        for (name, b) in a.on_host(&h.name) {
            used = used.plus(&b.demand);
            let c = fleet.container(name).unwrap();
            for (k, v) in &c.placement.selector {
                assert_eq!(
                    h.labels.get(k),
                    Some(v),
                    "{name} on {} breaks its selector",
                    h.name
                );
            }
        }
        assert!(
            used.fits_within(&alloc),
            "{} over capacity: {used:?} > {alloc:?}",
            h.name
        );
    }
}

fn newcomer(cpu: u32, mib: u64) -> DesiredContainer {
    ct("c-new", cpu, &format!("{mib}Mi"), "1Gi")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn capacity_and_selectors_hold(f in arb_fleet()) {
        let a = placed(&f, &Current::new());
        assert_valid(&f, &a);
        // Every container is either placed or reported, never both, never lost.
        if let Err(e) = place(&f, &BTreeMap::new(), &Current::new()) {
            for u in &e.unplaced {
                prop_assert!(!e.partial.bindings.contains_key(&u.container));
            }
            prop_assert_eq!(e.unplaced.len() + e.partial.bindings.len(), f.containers.len());
        }
    }

    #[test]
    fn same_input_same_output(f in arb_fleet()) {
        prop_assert_eq!(placed(&f, &Current::new()), placed(&f, &Current::new()));
    }

    #[test]
    fn adding_a_container_moves_no_other(f in arb_fleet(), cpu in 1u32..400, mib in 64u64..4096) {
        let before = placed(&f, &Current::new());
        let mut containers = f.containers.clone();
        containers.push(newcomer(cpu, mib));
        let grown = fleet(f.hosts.clone(), containers);
        let after = placed(&grown, &before.as_current());
        assert_valid(&grown, &after);
        for (name, b) in &before.bindings {
            prop_assert_eq!(after.host_of(name), Some(b.host.as_str()), "{} moved", name);
        }
    }

    #[test]
    fn placing_again_from_the_result_changes_nothing(f in arb_fleet()) {
        let first = placed(&f, &Current::new());
        let again = placed(&f, &first.as_current());
        prop_assert_eq!(first.as_current(), again.as_current());
    }
}

#[test]
fn demand_defaults_apply_to_unlimited_containers() {
    let mut c = ct("free", 1, "1Mi", "1Mi");
    c.spec.resources = Default::default();
    let d = demand(&c, &DemandDefaults::default());
    assert_eq!((d.cpu, d.memory, d.disk), (100, 256 << 20, 0));
    c.spec.resources.cpus = Some("0-1".into());
    assert_eq!(demand(&c, &DemandDefaults::default()).cpu, 200);
}
