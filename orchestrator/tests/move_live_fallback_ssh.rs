//! A live move whose uid range is taken on the target, between two real sshd hosts with CRIU:
//! the dumped tree keeps its user namespace, which maps the source's uid range. Nodes give a
//! container the range its name prefers, so containers of different names on two busy nodes
//! hold different ranges and a move between them is live; a name that prefers the same range
//! is what it takes to collide (found here with the same hash the nodes use). Where the target
//! reports the range held, the plan says cold up front and why, and the apply moves it cold
//! without a dump. Where the range is taken after the plan was made (a create on the target in
//! the same apply), the target refuses the tree at the commit and keeps nothing, the source
//! restores it, and the same apply moves it cold; the report says why it was not live.

mod support;

use std::path::Path;

use fleet_protocol::uid_ranges::preferred_slot;
use support::fleetctl::{Cleanup, expect};
use support::moves::{assert_moved, fill, live_cluster, root, write_with};
use support::sshd::{Cluster, unique};

/// Ranges in the nodes' default pool, 100000-2147483648.
const POOL_RANGES: u32 = 32766;

/// A name that prefers the same range as `mover` (so takes it where it is free).
fn name_colliding_with_mover() -> String {
    let slot = preferred_slot("mover", POOL_RANGES);
    (0..)
        .map(|i| format!("taker-{i}"))
        .find(|n| preferred_slot(n, POOL_RANGES) == slot)
        .unwrap()
}

/// Container `name`, pinned to node-1.
fn on_node_1(name: &str) -> String {
    format!(
        "\n  - name: {name}\n    template: busybox\n    \
         command: [\"/bin/sleep\", \"1000000\"]\n    host: node-1"
    )
}

/// The uid range base node `host` gave `name`.
fn base(cluster: &Cluster, host: usize, name: &str) -> u64 {
    let ranges = std::fs::read(root(cluster, host).join("userns-ranges.json")).unwrap();
    let ranges: serde_json::Value = serde_json::from_slice(&ranges).unwrap();
    ranges["ranges"][name].as_u64().unwrap()
}

/// The line of apply's report about `mover`'s move, which was cold.
#[track_caller]
fn cold_move_line(out: &str) -> &str {
    let line = out
        .lines()
        .find(|l| l.contains("mover moved"))
        .unwrap_or_else(|| panic!("no move reported: {out}"));
    eprintln!("{line}");
    assert!(line.contains("moved node-0 -> node-1 (cold)"), "{line}");
    line
}

/// What a finished move to node-1 leaves ([`assert_moved`]), with a range of its own there, not
/// `taken` (which another container holds).
#[track_caller]
fn assert_moved_to_a_range_of_its_own(cluster: &Cluster, spec: &Path, sum: &str, taken: u64) {
    assert_moved(cluster, spec, sum);
    assert_ne!(
        base(cluster, 1, "mover"),
        taken,
        "a range of its own on node-1"
    );
}

#[test]
fn a_live_move_into_a_host_holding_its_uid_range_is_planned_cold_and_moved_without_a_dump() {
    let Some(cluster) = live_cluster() else {
        return;
    };
    let fleet = format!("held-{}", unique());
    let taker = on_node_1(&name_colliding_with_mover());
    let spec = write_with(&cluster, &fleet, "\n    host: node-0", &taker);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    let sum = fill(&cluster, &spec, 1);
    let held = base(&cluster, 1, &name_colliding_with_mover());
    assert_eq!(
        base(&cluster, 0, "mover"),
        held,
        "names that prefer one range get it on two fresh nodes"
    );

    let spec = write_with(&cluster, &fleet, "\n    host: node-1", &taker);
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains(&format!(
            "> mover (move node-0 -> node-1, cold; uid range {held} is held on the target by {}, \
             and a restored tree keeps the user namespace it was dumped with)",
            name_colliding_with_mover()
        )),
        "{plan}"
    );
    let out = expect("apply", &spec, &["--yes"], 0);
    let line = cold_move_line(&out);
    assert!(
        !line.contains("planned live") && !line.contains("frozen"),
        "cold from the start: no dump, no fallback: {line}"
    );
    assert_moved_to_a_range_of_its_own(&cluster, &spec, &sum, held);
}

#[test]
fn a_uid_range_taken_after_the_plan_makes_the_target_refuse_the_tree_and_the_move_goes_cold() {
    let Some(cluster) = live_cluster() else {
        return;
    };
    let fleet = format!("fallback-{}", unique());
    let neighbour = on_node_1("neighbour");
    let spec = write_with(&cluster, &fleet, "\n    host: node-0", &neighbour);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    let sum = fill(&cluster, &spec, 1);
    let mover = base(&cluster, 0, "mover");
    assert_ne!(
        mover,
        base(&cluster, 1, "neighbour"),
        "two names, two fresh nodes: two ranges"
    );
    let busy = write_with(&cluster, &fleet, "\n    host: node-1", &neighbour);
    let plan = expect("plan", &busy, &[], 0);
    assert!(
        plan.contains("> mover (move node-0 -> node-1, live)"),
        "a live move between busy nodes: {plan}"
    );

    // The same move, with a container created on node-1 in the same apply (its batch runs
    // before the move) that takes mover's range: the plan, made before, cannot see it.
    let taker = name_colliding_with_mover();
    let spec = write_with(
        &cluster,
        &fleet,
        "\n    host: node-1",
        &format!("{neighbour}{}", on_node_1(&taker)),
    );
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains("> mover (move node-0 -> node-1, live)")
            && plan.contains(&format!("+ {taker}")),
        "{plan}"
    );
    let out = expect("apply", &spec, &["--yes"], 0);
    assert_eq!(
        base(&cluster, 1, &taker),
        mover,
        "the create took mover's range"
    );
    let line = cold_move_line(&out);
    assert!(
        line.contains("planned live, made cold: node-1 cannot restore it live")
            && line.contains(&mover.to_string()),
        "the report says why, naming the range: {line}"
    );
    assert_moved_to_a_range_of_its_own(&cluster, &spec, &sum, mover);
}
