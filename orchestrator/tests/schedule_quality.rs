//! Packing quality as a regression check (not a timing): on a mixed workload the packer stays
//! within 5% of the lower bound and never does worse than plain first-fit.

mod schedule_support;

use std::collections::BTreeMap;

use fleet::model::Overcommit;
use fleet::schedule::{
    Current, DemandDefaults, HostShape, Options, Strategy, hosts_needed, place, place_with,
};
use schedule_support::*;

/// (cpu %, memory, disk, how many).
const MIX: [(u32, &str, &str, usize); 6] = [
    (25, "512Mi", "5Gi", 600),
    (50, "1Gi", "10Gi", 480),
    (100, "2Gi", "20Gi", 400),
    (200, "8Gi", "50Gi", 200),
    (400, "2Gi", "10Gi", 160),
    (50, "16Gi", "40Gi", 160),
];

#[test]
fn mixed_workload_within_five_percent_of_the_bound() {
    // Interleave the shapes by name so that first-fit (name order) sees a realistic mix.
    let mut containers = Vec::new();
    let mut i = 0;
    for (k, (cpu, mem, disk, n)) in MIX.iter().enumerate() {
        for j in 0..*n {
            containers.push(ct(&format!("c-{:04}-{k}", j * 7 + k), *cpu, mem, disk));
            i += 1;
        }
    }
    assert_eq!(i, 2000);
    let f = fleet(
        (0..100)
            .map(|h| host(&format!("h-{h:03}"), 32, "128Gi", "2Ti"))
            .collect(),
        containers,
    );
    let none = BTreeMap::new();
    let pack = place(&f, &none, &Current::new()).unwrap().hosts_used();
    let first_fit = place_with(
        &f,
        &none,
        &Current::new(),
        &Options {
            strategy: Strategy::FirstFit,
            ..Options::default()
        },
    )
    .unwrap()
    .hosts_used();
    let shape = HostShape {
        cpus: 32,
        memory: size("128Gi"),
        disk: size("2Ti"),
        overcommit: Overcommit::default(),
    };
    let bound = hosts_needed(&f, &shape, &DemandDefaults::default()).lower_bound;
    assert!(
        pack as f64 <= bound as f64 * 1.05,
        "pack {pack} hosts, bound {bound}"
    );
    assert!(pack <= first_fit, "pack {pack} > first-fit {first_fit}");
}
