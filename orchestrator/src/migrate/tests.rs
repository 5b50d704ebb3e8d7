//! Moves in the plan and in apply, against in-memory nodes: a container whose host changes is
//! planned as a move (or refused with why), apply carries it out over both sessions, and a
//! move cut off at any point leaves the container on the source, where the next apply finds it
//! and finishes the move.

use std::collections::BTreeMap;

use fleet_protocol::uid_ranges::UidRanges;

use crate::apply::report::{Outcome, Report};
use crate::apply::{ApplyOptions, apply};
use crate::diff::{DiffOptions, HostObservation, Observed};
use crate::model::{DesiredContainer, Fleet, Placement};
use crate::plan::fixture::{capacity, fleet, hello, hello_mut, host, pinned, spec};
use crate::plan::{Plan, StepKind, render};
use crate::reconcile::decide;
use crate::transport::memory::{Held, MemoryNode};

/// `web-1` with a 1Gi disk, pinned to `to`.
fn web(to: &str) -> DesiredContainer {
    let mut s = spec("demo", "web-1");
    s.resources.disk_space = Some(1 << 30);
    pinned(s, to)
}

pub(super) fn nodes(hosts: &[&str]) -> BTreeMap<String, MemoryNode> {
    hosts
        .iter()
        .map(|h| (h.to_string(), MemoryNode::new(h)))
        .collect()
}

/// Fleet `demo` of hosts a and b with [`web`] pinned to b, and in-memory nodes for both, a
/// running it with `disk` on its disk: a move from a to b, to plan.
fn web_moving_to_b(disk: &str) -> (Fleet, BTreeMap<String, MemoryNode>) {
    let f = fleet("demo", vec![host("a"), host("b")], vec![web("b")]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &web("a"), disk);
    (f, n)
}

/// Puts `c`'s spec on `node` as a running container whose disk holds `disk`.
pub(super) fn running_on(node: &MemoryNode, c: &DesiredContainer, disk: &str) {
    node.state().containers.insert(
        c.spec.name.clone(),
        Held {
            spec: c.spec.clone(),
            running: true,
            disk: disk.into(),
            moving_to: None,
        },
    );
}

/// What observe would find on the in-memory nodes, which have no CRIU (so their moves are
/// cold: the in-memory node does not checkpoint).
pub(super) fn observe(nodes: &BTreeMap<String, MemoryNode>) -> Observed {
    observe_with(nodes, false)
}

fn observe_with(nodes: &BTreeMap<String, MemoryNode>, criu: bool) -> Observed {
    Observed {
        hosts: nodes
            .iter()
            .map(|(h, n)| {
                let mut node = hello(h);
                node.features.criu = criu;
                (
                    h.clone(),
                    HostObservation::Reachable {
                        node: Some(node),
                        containers: n.list(),
                    },
                )
            })
            .collect(),
    }
}

fn plan(f: &Fleet, nodes: &BTreeMap<String, MemoryNode>) -> Plan {
    decide(f, &observe(nodes), DiffOptions::default()).expect("no cycle")
}

fn run(f: &Fleet, plan: &Plan, sessions: &mut BTreeMap<String, MemoryNode>) -> Report {
    let opts = ApplyOptions {
        parallel: 4,
        lock_timeout_secs: 0,
        user: "test@here".into(),
    };
    let progress = crate::apply::progress::Progress::Quiet;
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(apply(&f.name, plan, sessions, opts, &progress))
}

fn held(nodes: &BTreeMap<String, MemoryNode>, host: &str) -> Option<Held> {
    nodes[host].state().containers.get("web-1").cloned()
}

#[test]
fn a_new_pin_is_planned_as_a_cold_move() {
    let (f, n) = web_moving_to_b("data");
    let p = plan(&f, &n);
    assert_eq!(
        render::text(&p).trim(),
        "b:\n  > web-1 (move a -> b, cold; CRIU is missing or fails `criu check` on the \
         source)\n\
         Plan: 0 to create, 0 to update live, 0 to restart, 0 to destroy, 1 to move."
    );
    assert!(
        p.is_destructive(),
        "a cold move stops the container: it asks first"
    );
    let json = render::json(&p);
    assert_eq!(json["steps"][0]["action"], "move");
    assert_eq!(json["steps"][0]["from"], "a");
    assert_eq!(json["summary"]["moves"], 1);
}

#[test]
fn a_running_container_moves_live_when_both_nodes_have_criu_and_cold_when_stopped() {
    let (f, n) = web_moving_to_b("data");
    let p = decide(&f, &observe_with(&n, true), DiffOptions::default()).expect("no cycle");
    assert_eq!(
        render::text(&p).trim(),
        "b:\n  > web-1 (move a -> b, live)\n\
         Plan: 0 to create, 0 to update live, 0 to restart, 0 to destroy, 1 to move."
    );
    assert!(p.steps[0].change.live);
    assert_eq!(render::json(&p)["steps"][0]["live"], true);
    n["a"].state().containers.get_mut("web-1").unwrap().running = false;
    let p = decide(&f, &observe_with(&n, true), DiffOptions::default()).expect("no cycle");
    assert!(
        render::text(&p).contains("(move a -> b, cold; it is not running: nothing to keep"),
        "{}",
        render::text(&p)
    );
}

#[test]
fn a_move_that_also_changes_privileged_or_the_command_is_cold() {
    // A live move restores the processes as they were dumped: the target would record the new
    // spec while they run on under the old one (for `privileged`, in a user namespace the
    // target never gave a range, or as host root recorded unprivileged).
    for (field, change) in [
        (
            "privileged",
            (|s: &mut fleet_protocol::ContainerSpec| s.privileged = true) as fn(&mut _),
        ),
        ("command", |s| s.command = vec!["/bin/true".into()]),
    ] {
        let (mut f, n) = web_moving_to_b("data");
        change(&mut f.containers[0].spec);
        let p = decide(&f, &observe_with(&n, true), DiffOptions::default()).expect("no cycle");
        let text = render::text(&p);
        assert!(!p.steps[0].change.live, "{field}: {text}");
        assert!(
            text.contains(&format!(
                "(move a -> b, cold; it also changes {field}, which takes a restart: a restored \
                 tree would run on as it was dumped)"
            )),
            "{field}: {text}"
        );
    }
}

#[test]
fn a_selector_that_no_longer_matches_is_a_move() {
    let mut a = host("a");
    a.labels.insert("zone".into(), "x".into());
    let mut b = host("b");
    b.labels.insert("zone".into(), "y".into());
    let mut c = web("b");
    c.host = None;
    c.placement = Placement {
        selector: [("zone".to_string(), "y".to_string())].into(),
        ..Placement::default()
    };
    let f = fleet("demo", vec![a, b], vec![c.clone()]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &c, "data");
    let p = plan(&f, &n);
    assert_eq!(p.steps.len(), 1, "{}", render::text(&p));
    assert_eq!(p.steps[0].kind, StepKind::Move);
    assert_eq!(p.steps[0].change.from.as_deref(), Some("a"));
    assert_eq!(p.steps[0].change.host, "b");
}

#[test]
fn a_move_without_a_disk_or_with_a_template_change_is_refused() {
    let mut no_disk = web("b");
    no_disk.spec.resources.disk_space = None;
    let f = fleet("demo", vec![host("a"), host("b")], vec![no_disk.clone()]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &no_disk, "");
    let p = plan(&f, &n);
    assert!(p.is_empty());
    let reason = &p.diff.refused[0].reason;
    assert!(
        reason.contains("no disk image to move") && reason.contains("--allow-recreate"),
        "{reason}"
    );

    let mut other = web("b");
    other.spec.template = fleet_protocol::TemplateRef::Host;
    let f = fleet("demo", vec![host("a"), host("b")], vec![other]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &web("a"), "");
    let p = plan(&f, &n);
    assert!(p.is_empty());
    assert!(
        p.diff.refused[0].reason.contains("changes template"),
        "{:?}",
        p.diff.refused
    );
}

/// Node `host`'s uid ranges in `observed`: the default pool, `held` (container, base).
fn say_ranges(observed: &mut Observed, host: &str, held: &[(&str, u32)]) {
    hello_mut(observed, host).capacity.uid_ranges = Some(UidRanges {
        pool_start: 100_000,
        pool_end: 1 << 31,
        reserved: Vec::new(),
        held: held.iter().map(|&(n, b)| (n.to_owned(), b)).collect(),
    });
}

#[test]
fn a_live_move_into_a_host_that_holds_its_uid_range_is_planned_cold_and_says_by_whom() {
    let (f, n) = web_moving_to_b("data");
    let base = 100_000 + 17 * 65536;
    let mut observed = observe_with(&n, true);
    say_ranges(&mut observed, "a", &[("web-1", base)]);
    say_ranges(&mut observed, "b", &[("web-3", base)]);
    let p = decide(&f, &observed, DiffOptions::default()).expect("no cycle");
    assert_eq!(
        render::text(&p).trim(),
        format!(
            "b:\n  > web-1 (move a -> b, cold; uid range {base} is held on the target by web-3, \
             and a restored tree keeps the user namespace it was dumped with)\n\
             Plan: 0 to create, 0 to update live, 0 to restart, 0 to destroy, 1 to move."
        )
    );
    assert!(!p.steps[0].change.live);
    // Its range free on the target (another one held there): live.
    say_ranges(&mut observed, "b", &[("web-3", base + 65536)]);
    let p = decide(&f, &observed, DiffOptions::default()).expect("no cycle");
    assert!(p.steps[0].change.live, "{}", render::text(&p));
    // A target on another pool, which does not hold the range at all: cold, saying so.
    say_ranges(&mut observed, "b", &[]);
    hello_mut(&mut observed, "b")
        .capacity
        .uid_ranges
        .as_mut()
        .unwrap()
        .pool_start = 200_000;
    let text = render::text(&decide(&f, &observed, DiffOptions::default()).unwrap());
    assert!(
        text.contains(&format!(
            "cold; uid range {base} is not one of the ranges of the target's pool 200000-"
        )),
        "{text}"
    );
    // A target that does not report its ranges (an older fleet-node): live, as before; its
    // commit refuses the tree if the range is taken, and the apply makes the move cold.
    hello_mut(&mut observed, "b").capacity.uid_ranges = None;
    let p = decide(&f, &observed, DiffOptions::default()).expect("no cycle");
    assert!(p.steps[0].change.live, "{}", render::text(&p));
}

#[test]
fn a_move_to_a_host_without_room_is_a_plan_error_and_nothing_is_sent() {
    let (f, n) = web_moving_to_b("data");
    let mut observed = observe(&n);
    hello_mut(&mut observed, "b").capacity = capacity(1, 1 << 30, 1 << 20);
    let p = decide(&f, &observed, DiffOptions::default()).unwrap();
    assert!(p.is_empty(), "{}", render::text(&p));
    let reason = &p.diff.refused[0].reason;
    assert!(
        reason.contains("cannot be placed") && reason.contains("disk"),
        "{reason}"
    );
    let report = run(&f, &p, &mut n.clone());
    assert!(report.steps.is_empty());
    assert!(n["a"].state().moves.is_empty() && n["b"].state().moves.is_empty());
    assert!(held(&n, "a").unwrap().running);
}

#[test]
fn apply_moves_the_disk_and_removes_the_source_only_once_the_target_runs_it() {
    let (f, n) = web_moving_to_b("hello, world");
    let p = plan(&f, &n);
    let report = run(&f, &p, &mut n.clone());
    assert!(report.ok(), "{report:?}");
    let moved = held(&n, "b").expect("web-1 on b");
    assert_eq!(moved.disk, "hello, world");
    assert!(moved.running);
    assert!(held(&n, "a").is_none(), "the source copy is gone");
    assert_eq!(
        n["a"].state().moves.last().map(String::as_str),
        Some("export-finish web-1")
    );
    assert!(
        report.notes[0].starts_with("web-1 moved a -> b (cold): "),
        "{:?}",
        report.notes
    );
    assert!(report.notes[0].contains("(3 chunks)"), "{:?}", report.notes);
    assert!(plan(&f, &n).is_empty(), "{}", render::text(&plan(&f, &n)));
}

#[test]
fn a_refused_import_or_a_full_disk_restarts_the_container_on_the_source() {
    for fault in ["refuse", "full"] {
        let (f, n) = web_moving_to_b("hello, world");
        match fault {
            "refuse" => n["b"].state().refuse_import = Some("disk: 1Mi free".into()),
            _ => n["b"].state().full_at_chunk = Some(1),
        }
        let p = plan(&f, &n);
        let report = run(&f, &p, &mut n.clone());
        let Outcome::Failed { error } = &report.steps[0].outcome else {
            panic!("{report:?}")
        };
        let message = error.to_string();
        assert!(
            message.ends_with("web-1 runs on a again"),
            "{fault}: {message}"
        );
        let back = held(&n, "a").expect("still on a");
        assert!(
            back.running && back.moving_to.is_none(),
            "{fault}: {back:?}"
        );
        assert!(held(&n, "b").is_none());
        assert!(
            n["b"].state().imports.is_empty(),
            "{fault}: the target dropped it"
        );
    }
}

#[test]
fn a_session_lost_midway_leaves_the_container_on_the_source_and_the_next_apply_finishes() {
    for broken in ["a", "b"] {
        let (f, n) = web_moving_to_b("hello, world");
        // Call 0 begins the move; the break comes while the chunks travel.
        n[broken].state().break_at = Some(2);
        let p = plan(&f, &n);
        let report = run(&f, &p, &mut n.clone());
        assert!(!report.ok());
        assert!(
            report.lost_hosts.contains_key(broken),
            "{broken}: {report:?}"
        );
        assert!(held(&n, "b").is_none(), "{broken}: nothing made on b");
        let left = held(&n, "a").expect("still on a");
        if broken == "b" {
            assert!(left.running, "the source was told to start it again");
        } else {
            assert!(
                !left.running,
                "the source could not be told: stopped, marked"
            );
            assert_eq!(left.moving_to, Some(("b".into(), true)));
            assert_eq!(
                crate::apply::journal::moves_cut_off(&observe(&n), "then"),
                ["a: the move of web-1 to b was cut off (web-1 is stopped on a); then"]
            );
        }
        // The next apply: new sessions, the same nodes.
        for node in n.values() {
            node.state().break_at = None;
        }
        let again = plan(&f, &n);
        assert_eq!(again.steps.len(), 1, "{}", render::text(&again));
        let report = run(&f, &again, &mut n.clone());
        assert!(report.ok(), "{broken}: {report:?}");
        let moved = held(&n, "b").expect("on b");
        assert!(
            moved.running && moved.disk == "hello, world",
            "{broken}: {moved:?}"
        );
        assert!(held(&n, "a").is_none());
    }
}

#[test]
fn a_move_cut_off_after_the_target_made_it_is_finished_by_destroying_the_left_over() {
    let (f, n) = web_moving_to_b("old");
    running_on(&n["b"], &web("b"), "old");
    if let Some(h) = n["a"].state().containers.get_mut("web-1") {
        h.running = false;
        h.moving_to = Some(("b".into(), true));
    }
    let p = plan(&f, &n);
    assert_eq!(
        render::text(&p).trim(),
        "a:\n  - web-1 (destroy; left on a by its move to b, which finished)\n\
         Plan: 0 to create, 0 to update live, 0 to restart, 1 to destroy."
    );
    assert!(run(&f, &p, &mut n.clone()).ok());
    assert!(held(&n, "a").is_none());
    assert!(held(&n, "b").unwrap().running);
    assert!(plan(&f, &n).is_empty());
}

#[test]
fn a_move_rolled_back_in_the_spec_starts_the_container_where_it_was() {
    // The move was cut off with web-1 stopped on a; the spec now pins it back to a.
    let f = fleet("demo", vec![host("a"), host("b")], vec![web("a")]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &web("a"), "data");
    if let Some(h) = n["a"].state().containers.get_mut("web-1") {
        h.running = false;
        h.moving_to = Some(("b".into(), true));
    }
    let p = plan(&f, &n);
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].kind, StepKind::Start);
    assert!(run(&f, &p, &mut n.clone()).ok());
    assert!(held(&n, "a").unwrap().running);
}

#[test]
fn dependants_of_a_moved_container_wait_for_the_move() {
    let mut app = pinned(spec("demo", "app"), "b");
    app.depends_on = vec!["web-1".into()];
    let f = fleet("demo", vec![host("a"), host("b")], vec![web("b"), app]);
    let n = nodes(&["a", "b"]);
    running_on(&n["a"], &web("a"), "x");
    let p = plan(&f, &n);
    let mv = p.steps.iter().find(|s| s.kind == StepKind::Move).unwrap();
    let create = p.steps.iter().find(|s| s.kind == StepKind::Create).unwrap();
    assert_eq!(create.after, vec![mv.id]);
    assert!(create.wave > mv.wave);
    assert!(run(&f, &p, &mut n.clone()).ok());
    assert_eq!(n["b"].state().containers.len(), 2);
}
