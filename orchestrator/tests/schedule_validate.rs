//! Validation findings and the hosts-needed estimate.

mod schedule_support;

use std::collections::BTreeMap;

use fleet::model::Overcommit;
use fleet::schedule::{DemandDefaults, HostShape, Resource, hosts_needed, validate};
use schedule_support::*;

#[test]
fn findings_name_the_subject_the_field_and_what_would_be_valid() {
    let f = fleet(
        vec![
            host("h1", 4, "8Gi", "100Gi")
                .labels(&[("zone", "a")])
                .overcommit(0.5, 1.0),
            host("h2", 8, "16Gi", "100Gi")
                .labels(&[("zone", "b")])
                .overcommit(150.0, 1.0),
        ],
        vec![
            ct("fine", 100, "1Gi", "1Gi").select(&[("zone", "a")]),
            ct("huge", 100, "32Gi", "1Gi"),
            ct("lost", 100, "1Gi", "1Gi").select(&[("zone", "z")]),
            ct("norack", 100, "1Gi", "1Gi").spread("rack", "g"),
            ct("pinbig", 900, "1Gi", "1Gi").pin("h1"),
            ct("pinnone", 100, "1Gi", "1Gi").pin("h9"),
        ],
    );
    let got: Vec<String> = validate(&f, &BTreeMap::new(), &DemandDefaults::default())
        .iter()
        .map(|x| format!("{:?} {}: {}", x.subject, x.field, x.message))
        .collect();
    let want = [
        "Host(\"h1\") overcommit.cpu: overcommit ratio 0.5 is below 1.0; use 1.0 for none, or \
         more to allow allocations beyond capacity",
        "Host(\"h2\") overcommit.cpu: overcommit ratio 150 is absurd (more than 100); a ratio \
         is 1.0 for none, 2.0 for double",
        "Container(\"huge\") resources.memory: needs 32Gi memory, more than any host it may go \
         to can hold (16Gi on h2)",
        "Container(\"lost\") placement.selector: selector zone=z matches no host; use labels \
         some host carries",
        "Container(\"norack\") placement.spread: spread over label rack, which no host it may go \
         to has; use host or a label the hosts carry",
        "Container(\"pinbig\") resources.cpu_limit: needs 900% cpu, more than host h1 can hold \
         (400% on h1)",
        "Container(\"pinnone\") host: host h9 is not declared in the fleet",
    ];
    assert_eq!(got, want);
}

#[test]
fn hosts_needed_reports_the_bound_and_what_packing_achieves() {
    // 10 containers of 300% cpu and 1Gi on hosts of 8 CPUs: cpu binds, 3000/800 -> 4 hosts,
    // but only two 300% containers fit per 800% host, so packing needs 5.
    let f = fleet(
        vec![],
        (0..10)
            .map(|i| ct(&format!("c{i}"), 300, "1Gi", "1Gi"))
            .collect(),
    );
    let shape = HostShape {
        cpus: 8,
        memory: size("64Gi"),
        disk: size("1Ti"),
        overcommit: Overcommit::default(),
    };
    let n = hosts_needed(&f, &shape, &DemandDefaults::default());
    assert_eq!(n.binding, Resource::Cpu);
    assert_eq!(n.lower_bound, 4);
    assert_eq!(n.achieved, Some(5));
    assert!(n.too_large.is_empty());

    // With memory overcommit irrelevant and cpu overcommit 1.5: 1200% per host, four each.
    let roomy = HostShape {
        overcommit: Overcommit {
            cpu: 1.5,
            memory: 1.0,
        },
        ..shape.clone()
    };
    let n = hosts_needed(&f, &roomy, &DemandDefaults::default());
    assert_eq!((n.lower_bound, n.achieved), (3, Some(3)));

    let small = HostShape { cpus: 2, ..shape };
    let n = hosts_needed(&f, &small, &DemandDefaults::default());
    assert_eq!(n.achieved, None);
    assert_eq!(n.too_large.len(), 10);
}
