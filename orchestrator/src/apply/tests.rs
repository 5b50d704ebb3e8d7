//! apply's own logic against in-memory nodes: waves, dependency skips, lost sessions, refused
//! batches, the journal. No root, no sshd: the node side is `transport::memory`.

use std::collections::BTreeMap;

use super::error::{BatchError, StepError};
use super::progress::Progress;
use super::report::{Outcome, Report};
use super::{ApplyOptions, apply, journal};
use crate::diff::DiffOptions;
use crate::model::{DesiredContainer, Fleet, Placement};
use crate::plan::Plan;
use crate::plan::fixture::{
    demo_on_a, demo_on_a_and_b, empty_observation, fleet, host, pinned, spec,
};
use crate::reconcile::decide;
use crate::transport::memory::MemoryNode;

/// The plan for `f` on empty hosts of ample capacity, through the real pipeline.
fn plan_on_empty_hosts(f: &Fleet) -> Plan {
    decide(f, &empty_observation(f), DiffOptions::default()).expect("no cycle")
}

fn nodes(f: &Fleet) -> BTreeMap<String, MemoryNode> {
    f.hosts
        .iter()
        .map(|h| (h.name.clone(), MemoryNode::new(&h.name)))
        .collect()
}

/// [`nodes`], where `host`'s node fails every action on container `name` with `message`.
fn nodes_failing(f: &Fleet, host: &str, name: &str, message: &str) -> BTreeMap<String, MemoryNode> {
    let sessions = nodes(f);
    sessions[host]
        .state()
        .failing
        .insert(name.into(), message.into());
    sessions
}

fn run(f: &Fleet, plan: &Plan, sessions: &mut BTreeMap<String, MemoryNode>) -> Report {
    run_with(f, plan, sessions, &Progress::Quiet)
}

fn run_with(
    f: &Fleet,
    plan: &Plan,
    sessions: &mut BTreeMap<String, MemoryNode>,
    progress: &Progress,
) -> Report {
    let opts = ApplyOptions {
        parallel: 4,
        lock_timeout_secs: 0,
        user: "test@here".into(),
    };
    block_on(apply(&f.name, plan, sessions, opts, progress))
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn outcome<'r>(report: &'r Report, container: &str) -> &'r Outcome {
    &report
        .steps
        .iter()
        .find(|s| s.container == container)
        .unwrap_or_else(|| panic!("no step for {container}: {report:?}"))
        .outcome
}

fn depending(mut c: DesiredContainer, on: &str) -> DesiredContainer {
    c.depends_on = vec![on.to_owned()];
    c
}

/// Hosts a and b; a1 and a2 pinned to a, b1 to b.
fn two_hosts_three_containers() -> Fleet {
    demo_on_a_and_b(&[("a1", "a"), ("a2", "a"), ("b1", "b")])
}

/// The steps of `report` on hosts other than `host`.
fn elsewhere<'r>(report: &'r Report, host: &str) -> Vec<&'r Outcome> {
    report
        .steps
        .iter()
        .filter(|s| s.host != host)
        .map(|s| &s.outcome)
        .collect()
}

/// Four hosts, `lb` pinned to h1, `web-1..4` spread over every host and depending on `lb`.
fn lb_and_spread_web() -> Fleet {
    let hosts = ["h1", "h2", "h3", "h4"].map(host).to_vec();
    let mut containers = vec![pinned(spec("demo", "lb"), "h1")];
    for i in 1..=4 {
        containers.push(DesiredContainer {
            spec: spec("demo", &format!("web-{i}")),
            host: None,
            placement: Placement {
                spread: Some("host".into()),
                group: Some("web-{index}".into()),
                ..Placement::default()
            },
            depends_on: vec!["lb".into()],
        });
    }
    fleet("demo", hosts, containers)
}

#[test]
fn each_host_gets_one_batch_when_nothing_crosses_hosts() {
    let f = two_hosts_three_containers();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes(&f);
    let report = run(&f, &plan, &mut sessions);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.counts.changed, 3);
    assert_eq!(sessions["a"].state().batches, [["create a1", "create a2"]]);
    assert_eq!(sessions["b"].state().batches, [["create b1"]]);
    assert!(sessions["a"].state().containers["a2"].running);
}

#[test]
fn dependents_on_the_same_host_as_their_dependency_run_in_its_batch() {
    // Issue 13, defect 1: web on h1 was skipped with "lb on h1 did not succeed" although lb was
    // created in the same batch, just before it.
    let f = lb_and_spread_web();
    let plan = plan_on_empty_hosts(&f);
    let hosts: std::collections::BTreeSet<&str> = plan
        .steps
        .iter()
        .filter(|s| s.change.name.starts_with("web-"))
        .map(|s| s.change.host.as_str())
        .collect();
    assert_eq!(
        hosts.len(),
        4,
        "the set is spread over every host: {hosts:?}"
    );
    let mut sessions = nodes(&f);
    let report = run(&f, &plan, &mut sessions);
    assert!(report.ok(), "{:#?}", report.steps);
    // h1 runs lb and its own web in one batch, lb first; the others wait one wave for lb.
    let h1 = &sessions["h1"].state().batches;
    assert_eq!(h1.len(), 1, "{h1:?}");
    assert_eq!(h1[0][0], "create lb");
    assert_eq!(h1[0].len(), 2);
    for h in ["h2", "h3", "h4"] {
        assert_eq!(sessions[h].state().batches.len(), 1, "{h}");
    }
    assert_eq!(plan.waves(), 2);
}

#[test]
fn a_failed_dependency_skips_its_dependents_on_other_hosts() {
    let f = lb_and_spread_web();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes(&f);
    sessions["h1"].state().failing.insert(
        "lb".into(),
        "template busybox: no busybox-static here".into(),
    );
    let report = run(&f, &plan, &mut sessions);
    assert_eq!(
        outcome(&report, "lb"),
        &Outcome::Failed {
            error: StepError::Action {
                message: "template busybox: no busybox-static here".into(),
                needs_restart: false,
            }
        }
    );
    let skipped = elsewhere(&report, "h1");
    assert_eq!(skipped.len(), 3);
    for o in skipped {
        assert_eq!(
            o,
            &Outcome::Skipped {
                reason: "lb on h1 did not succeed".into()
            }
        );
    }
    for h in ["h2", "h3", "h4"] {
        assert!(
            sessions[h].state().batches.is_empty(),
            "{h} was sent nothing"
        );
    }
    assert!(!report.ok());
}

#[test]
fn a_failed_dependency_skips_its_dependents_on_its_own_host_too() {
    // lb and web-on-h1 travel in one batch; the node does not run web after lb failed.
    let f = lb_and_spread_web();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes_failing(&f, "h1", "lb", "command not found");
    let report = run(&f, &plan, &mut sessions);
    let on_h1: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.host == "h1" && s.container != "lb")
        .map(|s| s.container.as_str())
        .collect();
    assert_eq!(on_h1.len(), 1, "{report:?}");
    assert_eq!(
        outcome(&report, on_h1[0]),
        &Outcome::Skipped {
            reason: "lb on h1 did not succeed".into()
        }
    );
    let h1 = sessions["h1"].state();
    assert_eq!(
        h1.batches[0].len(),
        2,
        "sent in lb's batch: {:?}",
        h1.batches
    );
    assert!(h1.containers.is_empty(), "nothing ran after lb failed");
    assert_eq!(report.counts.skipped, 4, "{report:?}");
}

#[test]
fn progress_moves_per_container_within_a_hosts_batch() {
    let f = demo_on_a(&["c1", "c2", "c3"]);
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes_failing(&f, "a", "c2", "no room");
    let progress = Progress::recorded();
    run_with(&f, &plan, &mut sessions, &progress);
    assert_eq!(
        progress.events(),
        [
            "a: batch of 3",
            "a: working on c1",
            "a: c1 finished ok",
            "a: working on c2",
            "a: c2 finished not done",
            "a: working on c3",
            "a: c3 finished ok",
        ]
    );
}

#[test]
fn a_lost_session_fails_its_batch_and_skips_that_hosts_later_waves() {
    // b1 runs in wave 0; b2 depends on a1 (another host), so it is in wave 1 on the same host.
    let f = fleet(
        "demo",
        vec![host("a"), host("b")],
        vec![
            pinned(spec("demo", "a1"), "a"),
            pinned(spec("demo", "b1"), "b"),
            depending(pinned(spec("demo", "b2"), "b"), "a1"),
        ],
    );
    let plan = plan_on_empty_hosts(&f);
    assert_eq!(plan.waves(), 2);
    let mut sessions = nodes(&f);
    sessions["b"].state().break_at = Some(0);
    let report = run(&f, &plan, &mut sessions);
    assert_eq!(outcome(&report, "a1"), &Outcome::Done { changed: true });
    let Outcome::Failed {
        error: StepError::Batch(BatchError::Lost(error)),
    } = outcome(&report, "b1")
    else {
        panic!("{report:?}")
    };
    assert!(error.contains("the node closed the session"), "{error}");
    let Outcome::Skipped { reason } = outcome(&report, "b2") else {
        panic!("{report:?}")
    };
    assert!(
        reason.starts_with("session with b lost earlier: "),
        "{reason}"
    );
    assert!(report.lost_hosts.contains_key("b"), "{report:?}");
    assert!(!sessions.contains_key("b"), "a broken session is dropped");
    assert!(sessions.contains_key("a"));
}

#[test]
fn a_refused_batch_fails_its_steps_names_the_host_once_and_keeps_the_session() {
    let f = two_hosts_three_containers();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes(&f);
    let held = "apply lock held by fleet demo (bob@laptop, pid 7)";
    sessions["a"].state().refuse = Some(held.into());
    let report = run(&f, &plan, &mut sessions);
    for c in ["a1", "a2"] {
        assert_eq!(
            outcome(&report, c),
            &Outcome::Failed {
                error: BatchError::Refused(held.into()).into()
            }
        );
    }
    assert_eq!(outcome(&report, "b1"), &Outcome::Done { changed: true });
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let text = report.text();
    assert_eq!(
        text.matches(held).count(),
        1,
        "the lock's holder is named once, not per container: {text}"
    );
    assert!(
        text.contains(&format!(
            "error: a refused the batch, 2 step(s) not run: {held}"
        )),
        "{text}"
    );
    assert!(report.lost_hosts.is_empty());
    assert!(
        sessions.contains_key("a"),
        "a refusing node keeps its session"
    );
}

#[test]
fn a_host_without_a_session_fails_its_steps() {
    let f = two_hosts_three_containers();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes(&f);
    sessions.remove("b");
    let report = run(&f, &plan, &mut sessions);
    assert_eq!(
        outcome(&report, "b1"),
        &Outcome::Failed {
            error: StepError::NoSession { host: "b".into() }
        }
    );
    assert_eq!(outcome(&report, "a1"), &Outcome::Done { changed: true });
}

#[test]
fn a_second_apply_of_the_same_plan_changes_nothing() {
    let f = lb_and_spread_web();
    let plan = plan_on_empty_hosts(&f);
    let mut sessions = nodes(&f);
    assert!(run(&f, &plan, &mut sessions).ok());
    let again = run(&f, &plan, &mut sessions);
    assert!(again.ok(), "{again:?}");
    assert_eq!(again.counts.changed, 0, "creates are idempotent");
}

#[test]
fn clearing_a_journal_sends_an_empty_batch_and_notes_a_refusal() {
    let f = fleet("demo", vec![host("a"), host("b")], Vec::new());
    let mut sessions = nodes(&f);
    sessions["b"].state().refuse = Some("apply lock held".into());
    let hosts = vec!["a".to_owned(), "b".to_owned(), "gone".to_owned()];
    let notes = block_on(journal::clear("demo", &hosts, &mut sessions, 0, "me"));
    assert_eq!(
        notes,
        ["b: the old journal was not cleared: apply lock held"]
    );
    assert_eq!(sessions["a"].state().batches, [Vec::<String>::new()]);
}
