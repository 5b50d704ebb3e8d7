//! A live move the target cannot restore, between two real sshd hosts with CRIU: the dumped
//! tree keeps its user namespace, which maps the source's uid range, and on the target another
//! container holds that range (both nodes hand out ranges from the bottom of their pools, so
//! their first containers share one). The target refuses the tree and keeps nothing, the source
//! restores it, and the same apply moves it cold; the report says why it was not live.

mod support;

use support::fleetctl::{Cleanup, expect};
use support::moves::{assert_moved, fill, live_cluster, root, write_with};
use support::sshd::{Cluster, unique};

/// A second container pinned to node-1, made there before `mover` arrives.
const BLOCKER: &str = "\n  - name: blocker\n    template: busybox\n    \
                       command: [\"/bin/sleep\", \"1000000\"]\n    host: node-1";

/// The uid range base node `host` gave `name`.
fn base(cluster: &Cluster, host: usize, name: &str) -> u64 {
    let ranges = std::fs::read(root(cluster, host).join("userns-ranges.json")).unwrap();
    let ranges: serde_json::Value = serde_json::from_slice(&ranges).unwrap();
    ranges["ranges"][name].as_u64().unwrap()
}

#[test]
fn a_live_move_into_a_host_holding_its_uid_range_is_made_cold_in_the_same_apply() {
    let Some(cluster) = live_cluster() else {
        return;
    };
    let fleet = format!("fallback-{}", unique());
    let spec = write_with(&cluster, &fleet, "\n    host: node-0", BLOCKER);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    let sum = fill(&cluster, &spec, 1);
    assert_eq!(
        base(&cluster, 0, "mover"),
        base(&cluster, 1, "blocker"),
        "the two first containers share a range"
    );

    let spec = write_with(&cluster, &fleet, "\n    host: node-1", BLOCKER);
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains("> mover (move node-0 -> node-1, live)"),
        "{plan}"
    );
    let out = expect("apply", &spec, &["--yes"], 0);
    let line = out
        .lines()
        .find(|l| l.contains("mover moved"))
        .unwrap_or_else(|| panic!("no move reported: {out}"));
    eprintln!("{line}");
    assert!(line.contains("moved node-0 -> node-1 (cold)"), "{line}");
    assert!(
        line.contains("planned live, made cold: node-1 cannot restore it live")
            && line.contains(&base(&cluster, 1, "blocker").to_string()),
        "the report says why, naming the range: {line}"
    );
    assert_moved(&cluster, &spec, &sum);
    assert_ne!(
        base(&cluster, 1, "mover"),
        base(&cluster, 1, "blocker"),
        "a range of its own on node-1"
    );
}
