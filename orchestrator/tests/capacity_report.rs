//! Density reports: the figures per host and in total, `--fit`, `--drain`, `--what-if`, and the
//! three renderings (table, JSON, HTML).

mod schedule_support;

use std::collections::BTreeMap;

use fleet::capacity::{self, Basis, Report, assess, drain, fit, parse_shape, what_if};
use fleet::model::Fleet;
use fleet::schedule::{Amounts, HostShape, Resource, hosts_needed};
use schedule_support::*;

fn demo() -> Fleet {
    fleet(
        vec![
            host("h1", 4, "8Gi", "100Gi")
                .labels(&[("zone", "a")])
                .overcommit(2.0, 1.0),
            host("h2", 4, "8Gi", "100Gi").labels(&[("zone", "b")]),
            unknown_host("h3"),
        ],
        vec![
            ct("db", 200, "4Gi", "50Gi").pin("h2"),
            ct("web-1", 100, "1Gi", "5Gi").spread("host", "web"),
            ct("web-2", 100, "1Gi", "5Gi").spread("host", "web"),
            ct("<script>", 50, "512Mi", "1Gi"),
        ],
    )
}

fn report_of(f: &Fleet) -> Report {
    let usage = BTreeMap::from([(
        "h2".to_string(),
        Amounts::new(150, size("3Gi"), size("20Gi")),
    )]);
    report_with(f, &usage)
}

/// The report of `f` with `usage` and nothing else: no fit, drain, what-if or hosts needed.
fn report_with(f: &Fleet, usage: &BTreeMap<String, Amounts>) -> Report {
    let basis = Basis {
        usage: usage.clone(),
        ..Basis::default()
    };
    let (placement, density) = assess(f, &basis);
    Report {
        density,
        placement,
        fit: None,
        drain: None,
        what_if: None,
        hosts_needed: None,
    }
}

/// `drain` of `host` with no usage or current hosts and the default options.
fn drain_of(
    f: &Fleet,
    placement: &fleet::schedule::Assignment,
    host: &str,
) -> Result<capacity::DrainReport, String> {
    drain(f, placement, host, &Basis::default())
}

/// `what_if` from `before` to `after` with no usage or current hosts and the default options.
fn what_if_of(
    before: &Fleet,
    placement: &fleet::schedule::Assignment,
    after: &Fleet,
) -> capacity::WhatIf {
    what_if(before, placement, after, &Basis::default())
}

#[test]
fn density_per_host_and_in_total() {
    let f = demo();
    let r = report_of(&f);
    let d = &r.density;
    assert_eq!(r.placement.host_of("db"), Some("h2"));
    let h1 = d.host("h1").unwrap();
    let h2 = d.host("h2").unwrap();
    // h1 has 4 CPUs at overcommit 2: 400% raw, 800% allocatable.
    let cpu1 = h1.lines[Resource::Cpu.index()];
    assert_eq!((cpu1.capacity, cpu1.allocatable), (400, 800));
    // Everything placed adds up: db 200 + webs 200 + 50 = 450%.
    let cpu_total = d.totals[Resource::Cpu.index()];
    assert_eq!(cpu_total.allocated, 450);
    assert_eq!(cpu_total.allocatable, 800 + 400);
    assert_eq!(
        cpu_total.headroom,
        cpu_total.allocatable - cpu_total.allocated
    );
    // Spread by host: one web on each known host.
    assert_ne!(r.placement.host_of("web-1"), r.placement.host_of("web-2"));
    // h3's capacity is unknown: shown, flagged, holding nothing.
    let h3 = d.host("h3").unwrap();
    assert!(!h3.capacity_known);
    assert_eq!(h3.containers, 0);
    // Usage comes only from reachable hosts, and is flagged per host.
    assert!(h2.usage_observed && !h1.usage_observed);
    assert_eq!(h2.lines[Resource::Memory.index()].used, Some(size("3Gi")));
    assert_eq!(h1.lines[Resource::Memory.index()].used, None);
    // Stacked bars get one entry per group.
    assert!(h2.by_group.iter().any(|(g, _)| g == "db"));
}

#[test]
fn fit_counts_more_of_a_shape_per_host() {
    let f = demo();
    let r = report_of(&f);
    let shape = parse_shape("cpu=100%,memory=1Gi,disk=10Gi").unwrap();
    let all = fit(&f, &r.density, "small", shape, &BTreeMap::new());
    let by: BTreeMap<&str, (u64, Option<Resource>)> = all
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), (h.count, h.limited_by)))
        .collect();
    // Per host: the count is what the scarcest resource's headroom allows.
    for h in &r.density.hosts {
        if !h.capacity_known {
            assert_eq!(by[h.host.as_str()], (0, None));
            continue;
        }
        let want = Resource::ALL
            .iter()
            .map(|res| h.lines[res.index()].headroom / shape.get(*res))
            .min()
            .unwrap();
        assert_eq!(by[h.host.as_str()].0, want, "{}", h.host);
    }
    assert_eq!(all.total, all.hosts.iter().map(|h| h.count).sum::<u64>());
    let only_a = fit(
        &f,
        &r.density,
        "small",
        shape,
        &BTreeMap::from([("zone".into(), "a".into())]),
    );
    assert_eq!(only_a.total, by["h1"].0);
}

#[test]
fn shapes_parse_or_say_what_is_valid() {
    assert_eq!(
        parse_shape("memory=2Gi, cpu=150%").unwrap(),
        Amounts::new(150, size("2Gi"), 0)
    );
    for (bad, says) in [
        ("gpu=1", "expected cpu, memory or disk"),
        ("memory", "expected key=value"),
        ("", "demands nothing"),
        ("memory=lots", "invalid size"),
    ] {
        let e = parse_shape(bad).unwrap_err();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn drain_moves_a_hosts_containers_and_says_where() {
    let f = fleet(
        alike_hosts(3),
        vec![
            ct("a", 100, "2Gi", "1Gi").pin("h1"),
            ct("b", 100, "2Gi", "1Gi"),
            ct("c", 100, "2Gi", "1Gi"),
            ct("d", 100, "6Gi", "1Gi").pin("h2"),
        ],
    );
    let r = report_of(&f);
    let on_h1: Vec<&str> = r.placement.on_host("h1").map(|(n, _)| n).collect();
    // Hosts in use are filled first, h1 before h2 by name.
    assert_eq!(on_h1, ["a", "b", "c"]);
    let dr = drain_of(&f, &r.placement, "h1").unwrap();
    assert!(dr.fits);
    let moves: Vec<(String, Option<String>, bool)> = dr
        .moves
        .iter()
        .map(|m| (m.container.clone(), m.to.clone(), m.pinned))
        .collect();
    // h2 (in use) has room for one, the rest open h3; a is flagged as pinned to the drained
    // host.
    assert_eq!(
        moves,
        [
            ("a".into(), Some("h2".into()), true),
            ("b".into(), Some("h3".into()), false),
            ("c".into(), Some("h3".into()), false),
        ]
    );
    // d stays on h2; the drained host is left out of the after view.
    assert!(dr.after.host("h1").is_none());

    // Without h3 the other host cannot hold them.
    let two = fleet(f.hosts[..2].to_vec(), f.containers.clone());
    let r2 = report_of(&two);
    let dr2 = drain_of(&two, &r2.placement, "h1").unwrap();
    assert!(!dr2.fits);
    assert!(dr2.moves.iter().any(|m| {
        m.to.is_none()
            && m.reason
                .as_deref()
                .is_some_and(|r| r.contains("memory on every host is full"))
    }));

    let e = drain_of(&f, &r.placement, "h9").unwrap_err();
    assert_eq!(
        e,
        "cannot drain host h9: the fleet has no such host (hosts: h1, h2, h3)"
    );
}

#[test]
fn what_if_adds_and_removes_without_moving_the_rest() {
    let before = fleet(
        alike_hosts(2),
        (1..=6)
            .map(|i| ct(&format!("c{i}"), 100, "2Gi", "1Gi"))
            .collect(),
    );
    let r = report_of(&before);
    let mut containers = before.containers[1..].to_vec();
    containers.extend((7..=9).map(|i| ct(&format!("c{i}"), 100, "2Gi", "1Gi")));
    let mut hosts = before.hosts.clone();
    hosts.push(host("h3", 4, "8Gi", "100Gi"));
    let after = fleet(hosts, containers);
    let w = what_if_of(&before, &r.placement, &after);
    assert_eq!(w.hosts_added, ["h3"]);
    assert_eq!(w.containers_removed, ["c1"]);
    assert!(w.moved.is_empty(), "{:?}", w.moved);
    assert_eq!(w.containers_added.len(), 3);
    assert!(w.containers_added.iter().all(|(_, to)| to.is_some()));
    assert_eq!(w.density.placed, 8);
}

#[test]
fn hosts_needed_in_the_report() {
    let f = demo();
    let mut r = report_of(&f);
    r.hosts_needed = Some(hosts_needed(
        &f,
        &HostShape::of(&f.hosts[1]).unwrap(),
        &Default::default(),
    ));
    let text = capacity::table::render(&r);
    assert!(text.contains("hosts needed (each cpu 400%, memory 8Gi, disk 100Gi): at least 2 (cpu binds: 450% in all)"), "{text}");
    assert!(text.contains("placement achieves 2"), "{text}");
}

#[test]
fn table_lists_hosts_totals_and_flags() {
    let r = report_of(&demo());
    let text = capacity::table::render(&r);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("fleet test: 3 hosts, 2 in use, 4 containers placed"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("HOST") && lines[1].contains("USED (observed)"),
        "{text}"
    );
    assert!(text.contains("h3 ?"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("TOTAL")), "{text}");
    assert!(text.contains("unreachable"), "{text}");
}

#[test]
fn html_is_self_contained_with_bars_per_resource() {
    let f = demo();
    let mut r = report_of(&f);
    r.fit = Some(fit(
        &f,
        &r.density,
        "small",
        parse_shape("memory=1Gi").unwrap(),
        &BTreeMap::new(),
    ));
    let html = capacity::html::render(&r);
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        !html.contains("<script"),
        "no scripts, and names are escaped"
    );
    assert!(html.contains("&lt;script&gt;"));
    for fetch in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(fetch), "fetches nothing: found {fetch}");
    }
    for r in ["CPU per host", "Memory per host", "Disk per host"] {
        assert!(html.contains(r), "{r}");
    }
    assert_eq!(
        html.matches("class=\"row\"").count(),
        9,
        "bars of three hosts for three resources"
    );
    assert_eq!(html.matches("class=\"card\"").count(), 3, "a card each");
    assert!(html.contains("Room for more"));
    // h1's overcommit draws the raw-capacity marker inside its cpu bar, and its figures say so.
    assert!(html.contains("class=\"raw\""));
    assert!(html.contains("800% allocatable") || html.contains("of 800% allocated"));
    // h3's capacity is unknown: said, not drawn as a share of nothing.
    assert!(html.contains("capacity unknown"));
    assert!(html.contains("1 unknown, not counted"));
    // h2's node reported what its containers use: written beside its bars.
    assert!(html.contains("3Gi in use"), "{html}");
}

#[test]
fn json_carries_the_same_figures() {
    let r = report_of(&demo());
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["density"]["fleet"], "test");
    assert_eq!(v["density"]["totals"][0]["resource"], "cpu");
    assert_eq!(v["density"]["totals"][0]["allocated"], 450);
    assert_eq!(v["placement"]["bindings"]["db"]["origin"]["kind"], "pinned");
    assert!(v.get("fit").is_none());
}

#[test]
fn what_if_a_host_is_removed_lists_what_moves_where() {
    let before = fleet(
        alike_hosts(3),
        vec![
            ct("a", 100, "6Gi", "1Gi").pin("h1"),
            ct("b", 100, "6Gi", "1Gi").pin("h2"),
            ct("c", 100, "6Gi", "1Gi").pin("h3"),
            ct("d", 100, "1Gi", "1Gi"),
        ],
    );
    let r = report_of(&before);
    assert_eq!(r.placement.host_of("d"), Some("h1"));
    // h1 goes away and a's pin moves to a new, larger host h4.
    let mut hosts = before.hosts[1..].to_vec();
    hosts.push(host("h4", 8, "16Gi", "100Gi"));
    let mut containers = before.containers.clone();
    containers[0].host = Some("h4".into());
    let after = fleet(hosts, containers);
    let w = what_if_of(&before, &r.placement, &after);
    assert_eq!(
        (w.hosts_added.as_slice(), w.hosts_removed.as_slice()),
        (&["h4".to_string()][..], &["h1".to_string()][..])
    );
    let moved: Vec<(&str, &str, &str)> = w
        .moved
        .iter()
        .map(|m| (m.container.as_str(), m.from.as_str(), m.to.as_str()))
        .collect();
    assert_eq!(moved, [("a", "h1", "h4"), ("d", "h1", "h4")]);
    assert!(w.density.unplaced.is_empty());
}

#[test]
fn table_snapshot() {
    let f = fleet(
        vec![
            host("h1", 4, "8Gi", "100Gi").overcommit(2.0, 1.0),
            host("h2", 2, "4Gi", "50Gi"),
        ],
        vec![
            ct("a", 300, "2Gi", "10Gi").pin("h1"),
            ct("b", 50, "3Gi", "5Gi").pin("h2"),
        ],
    );
    let report = report_with(&f, &BTreeMap::new());
    let want = "\
fleet test: 2 hosts, 2 in use, 2 containers placed
HOST   CTRS  CPU                     MEMORY               DISK
h1     1     300%/800% (38%) +500%   2Gi/8Gi (25%) +6Gi   10Gi/100Gi (10%) +90Gi
h2     1     50%/200% (25%) +150%    3Gi/4Gi (75%) +1Gi   5Gi/50Gi (10%) +45Gi
TOTAL  2     350%/1000% (35%) +650%  5Gi/12Gi (42%) +7Gi  15Gi/150Gi (10%) +135Gi
cells: allocated/allocatable (share) +headroom; ? = capacity unknown, * = capacity from the node
";
    assert_eq!(capacity::table::render(&report), want);
}
