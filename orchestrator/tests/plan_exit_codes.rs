//! Exit codes CI can trust, over real sshd hosts and the real fleet-node (issue 13, defects 2
//! and 6): a container that cannot be placed on the capacity the node reports makes `plan
//! --detailed-exitcode` and `apply` exit 1 and is counted in their summary lines, while the rest
//! of the fleet is applied; with every host unreachable, `plan` says what it did not plan.

mod support;

use std::path::Path;

use support::fleetctl::{Cleanup, containers, expect, write_spec_yaml};
use support::sshd::Cluster;

/// Declares `capacity` for every host of `spec` instead of the cluster's usual figures.
fn declare_capacity(spec: &Path, capacity: &str) {
    let text = std::fs::read_to_string(spec).unwrap();
    let usual = "capacity: {cpus: 64, memory: 64Gi}";
    assert!(text.contains(usual), "{text}");
    std::fs::write(spec, text.replace(usual, &format!("capacity: {capacity}"))).unwrap();
}

#[test]
fn a_container_that_cannot_be_placed_fails_plan_and_apply_and_is_counted() {
    let Some(cluster) = Cluster::start_if_ready(1) else {
        return;
    };
    let spec = write_spec_yaml(
        &cluster,
        "fleet.yaml",
        "refuse",
        "  - name: small\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         resources: {memory: 32Mi}\n  - name: huge\n    template: busybox\n    \
         command: [\"/bin/sleep\", \"1000000\"]\n    resources: {memory: 48Gi}\n",
    );
    // Memory undeclared, so the scheduler uses what the node reports: this machine's memory,
    // far less than 48Gi (a declared figure would win, and validate would check it).
    declare_capacity(&spec, "{cpus: 64}");
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    // Both exit 1, name the container they refuse and count it in their summary line.
    for (verb, extra, refused, summary) in [
        (
            "plan",
            "--detailed-exitcode",
            "huge: cannot be placed: ",
            "Plan: 1 to create, 0 to update live, 0 to restart, 0 to destroy; 1 refused.",
        ),
        (
            "apply",
            "--yes",
            "refused: huge: cannot be placed: ",
            "Apply FAILED: 1 done (1 changed), 0 failed, 0 skipped, 1 refused, on 1 host(s).",
        ),
    ] {
        let said = expect(verb, &spec, &[extra], 1);
        assert!(said.contains(refused) && said.contains(summary), "{said}");
    }
    let seen = containers(&spec);
    assert_eq!(
        seen.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["small"],
        "the placeable part of the fleet is applied"
    );
    // Nothing left to do but the refusal: still a failure, in the same words.
    let again = expect("apply", &spec, &["--yes"], 1);
    assert!(
        again.contains("No changes planned; 1 refused.")
            && again.contains("1 refused, on 0 host(s)."),
        "{again}"
    );
    let json = expect("apply", &spec, &["--yes", "-o", "json"], 1);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["counts"]["refused"], 1, "{report}");
    assert_eq!(report["refused"][0]["name"], "huge", "{report}");
}

#[test]
fn plan_with_every_host_unreachable_says_what_it_did_not_plan() {
    let Some(mut cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let spec = write_spec_yaml(
        &cluster,
        "fleet.yaml",
        "gone",
        "  - name: web-{1..3}\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         placement: {spread: host}\n",
    );
    // Every figure declared, so the set is placed on the hosts that cannot be reached.
    declare_capacity(&spec, "{cpus: 64, memory: 64Gi, disk: 1Ti}");
    for sshd in &mut cluster.sshds {
        sshd.kill();
    }
    let plan = expect("plan", &spec, &["--detailed-exitcode"], 1);
    assert!(
        !plan.contains("No changes."),
        "nothing was planned, which is not the same as no changes: {plan}"
    );
    assert!(
        plan.contains("No changes planned; 3 not planned on 2 unreachable host(s)."),
        "{plan}"
    );
    assert!(plan.contains("node-0: unreachable"), "{plan}");
}
