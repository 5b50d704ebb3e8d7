//! `transport: local` end to end: `fleet apply` runs the real fleet-node as a child process and
//! creates real containers on this machine; a second apply changes nothing; a limit changed by
//! hand shows as drift in `status` and `plan` and the next apply puts it back (same
//! PID); `fleet destroy` removes them.

mod support;

use support::fleetctl::{
    LocalFleet, containers, expect, expect_no_changes, memory_limit, memory_limit_file, run,
};

#[test]
fn local_transport_applies_converges_and_destroys() {
    let Some(local) = LocalFleet::new(
        "local",
        "  - name: loc-{1..3}\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: here\n    resources:\n      memory: 33554433\n      cpu: {limit: 10%}\n      \
         io: {priority: 7}\n",
    ) else {
        return;
    };
    let (cluster, spec) = (&local.cluster, &local.spec);
    let cgroup = format!("{}-local", cluster.cgroup_prefix);

    let out = expect("apply", spec, &[], 0);
    assert!(
        out.contains("Plan: 3 to create, 0 to update live, 0 to restart, 0 to destroy."),
        "{out}"
    );
    // OpenVZ's I/O priority 7 is the weight 128: written where blkio has BFQ's weight file
    // (102 on its 1..=1000 scale), else warned per host and the containers still start.
    let bfq = std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists();
    assert_eq!(
        out.contains("warning: io.priority of loc-1, loc-2, loc-3 is ignored on here"),
        !bfq,
        "{out}"
    );
    let seen = containers(spec);
    assert_eq!(seen.len(), 3);
    for c in &seen {
        let pid = c.pid.expect("running container has an init pid");
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(cg.contains(&format!("/{cgroup}/")), "{}: {cg}", c.name);
        if bfq {
            let blkio = cg
                .lines()
                .find_map(|l| l.split_once(":blkio:").map(|(_, p)| p.to_owned()))
                .unwrap();
            let file = format!("/sys/fs/cgroup/blkio{blkio}/blkio.bfq.weight");
            assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "102");
        }
    }
    // The memory limit is 32Mi and one byte: the kernel keeps whole pages (32Mi), and that
    // rounding is not drift.
    expect_no_changes("apply", spec, &[]);
    assert_eq!(
        containers(spec),
        seen,
        "a no-op apply must not touch anything"
    );

    // A limit changed by hand on the host is drift, read from the kernel.
    let loc1 = seen.iter().find(|c| c.name == "loc-1").unwrap();
    let file = memory_limit_file(loc1.pid.unwrap());
    std::fs::write(&file, (16u64 << 20).to_string()).unwrap();
    let status = expect("status", spec, &[], 2);
    assert!(
        status.lines().any(|l| l.contains("loc-1")
            && l.contains("drifted")
            && l.contains("memory: 16Mi -> 33554433")),
        "{status}"
    );
    let plan = expect("plan", spec, &["--detailed-exitcode"], 2);
    assert!(plan.contains("~ loc-1 (update live)"), "{plan}");
    let fixed = expect("apply", spec, &[], 0);
    // The node compares the live values with the unchanged spec and writes the spec's back,
    // live: same init, the file holds 32Mi (the spec, page-rounded) again, and the next plan has
    // nothing to do.
    assert!(!fixed.contains("drift remains"), "{fixed}");
    assert_eq!(memory_limit(loc1.pid.unwrap()), 32 << 20, "{fixed}");
    assert_eq!(
        containers(spec),
        seen,
        "drift is corrected without a restart"
    );
    expect_no_changes("plan", spec, &["--detailed-exitcode"]);

    // Destroying needs confirmation: no terminal here, so without --yes nothing happens.
    let refused = run(&["destroy", "-f", spec.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --yes"));
    assert_eq!(containers(spec).len(), 3);
    let report = expect("destroy", spec, &["--yes", "-o", "json"], 0);
    let report: serde_json::Value = serde_json::from_str(&report).expect("destroy -o json");
    assert_eq!(report["counts"]["done"], 3, "{report}");
    assert_eq!(report["counts"]["failed"], 0, "{report}");
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["action"] == "destroy" && s["outcome"]["status"] == "done"),
        "{report}"
    );
    assert!(containers(spec).is_empty());
    for c in &seen {
        let pid = c.pid.unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .map(|s| !s.contains("sleep"))
                    .unwrap_or(true),
            "{}: init {pid} still runs after destroy",
            c.name
        );
    }
}

#[test]
fn the_local_demo_lives_where_fleet_node_looks_by_default() {
    // Issue 13, defect 8: the demo lived in its own root and cgroup parent, so `fleet-node list`
    // and `fleet-node boot` on the demo host showed nothing unless told where to look.
    let demo = fleet::resolve::load_str("demo.yaml", fleet::commands::DEMO_SPEC).unwrap();
    let node = support::sshd::fleet_node().expect("fleet-node binary");
    let help = std::process::Command::new(node)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for h in &demo.hosts {
        for value in [&h.node.root, &h.node.cgroup_parent] {
            assert!(
                help.contains(&format!("[default: {value}]")),
                "{} uses {value}, which is not a fleet-node default:\n{help}",
                h.name
            );
        }
    }
}

/// `disk.user_quota` through the real node's hello: where its kernel has no QFMT_V2 quota
/// format (this machine's), the plan refuses the container naming the host, its kernel and
/// the missing feature, and creates nothing; where it has it, the plan creates it.
#[test]
fn disk_user_quota_is_refused_by_the_plan_where_the_kernel_has_no_quota_format() {
    let Some(local) = LocalFleet::new(
        "quota",
        "  - name: q\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: here\n    resources:\n      disk: {space: 64Mi, user_quota: true}\n",
    ) else {
        return;
    };
    let spec = &local.spec;
    let path = spec.to_str().unwrap();
    let hosts = run(&["get", "hosts", "-f", path, "-o", "json"]);
    let hosts = String::from_utf8_lossy(&hosts.stdout).into_owned();
    let hello: serde_json::Value = serde_json::from_str(&hosts).expect(&hosts);
    let supported = hosts.contains("\"user_quota\":true") || hosts.contains("\"user_quota\": true");
    assert!(
        supported || hosts.contains("QFMT_V2"),
        "a node without the format says why: {hello}"
    );
    let plan = run(&["plan", "-f", path]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    if supported {
        assert!(text.contains("+ q"), "{text}");
    } else {
        assert!(
            text.contains("disk.user_quota needs the kernel's QFMT_V2 quota format")
                && text.contains("here (kernel "),
            "{text}"
        );
        assert!(!text.contains("+ q"), "{text}");
        assert!(!plan.status.success(), "a refusal fails the plan: {text}");
        assert!(containers(spec).is_empty());
    }
}
