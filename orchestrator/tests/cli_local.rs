//! The operator's CLI (issue 13) driven as a user would, through the real `fleet` binary against
//! a real local node (`transport: local`, the real fleet-node): validate's located errors as
//! JSON, `render -o yaml` as a spec that applies to the same fleet, `--target` and `-l` on
//! plan, apply, status, get and destroy, `fleet start|stop|restart NAME`.

mod support;

use std::path::Path;

use support::fleetctl::{
    LocalFleet, containers, expect, expect_no_changes, memory_limit, memory_limit_file, run,
    stderr_of,
};
use support::sshd::Cluster;

#[test]
fn validate_reports_located_errors_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: fleet/v1\nfleet: x\nhosts: [{name: a, transport: local}]\ncontainers:\n  \
         - name: c\n    template: busybx\n    command: [sleep]\n    resources: {memory: 5Zi}\n",
    )
    .unwrap();
    let out = run(&["validate", "-f", bad.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(v["valid"], false, "{v}");
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v}");
    let first = &errors[0];
    assert_eq!(first["file"], bad.to_str().unwrap(), "{v}");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(6), Some(15))
    );
    assert_eq!(first["message"], "unknown template \"busybx\"", "{v}");
    assert_eq!(first["hint"], "did you mean \"busybox\"?", "{v}");
    assert_eq!(errors[1]["line"], 8, "{v}");
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("invalid size \"5Zi\""),
        "{v}"
    );

    let good = run(&["validate", "-o", "json"]);
    assert_eq!(good.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["counts"]["containers"], 4, "{v}");
    assert!(v["errors"].as_array().unwrap().is_empty(), "{v}");
}

/// One fleet of two containers on a local node, worked on the way an operator would: the
/// rendered spec applied with `--target`, the rest applied later, per-container verbs, a
/// targeted destroy. One session keeps the suite short (each container start costs seconds).
#[test]
fn an_operators_session_on_a_local_node() {
    let Some(local) = LocalFleet::new(
        "ops",
        "  - name: rt-{1..2}\n    template: busybox\n    profile: small\n    \
         command: [/bin/sh, -c, \"echo hello from $(hostname); while sleep 1; do echo tick; done\"]\n    \
         placement: {spread: host}\n    labels: {tier: front}\n    env: {SLOT: \"{index}\"}\n    resources:\n      \
         memory: 33554433\n      disk: {space: 256Mi}\n",
    ) else {
        return;
    };
    let (cluster, fleet, spec) = (&local.cluster, &local.fleet, &local.spec);

    // render -o yaml is a spec: it validates, plans as the original, and applies to the same
    // containers (the original then finds nothing to change).
    let rendered = expect("render", spec, &[], 0);
    assert!(rendered.starts_with("apiVersion: fleet/v1\n"), "{rendered}");
    // Sizes in the spec's units; one that no unit divides stays in bytes.
    assert!(
        rendered.contains("memory: 33554433") && rendered.contains("space: 256Mi"),
        "{rendered}"
    );
    let again = cluster.dir.path().join("rendered.yaml");
    std::fs::write(&again, &rendered).unwrap();
    expect("validate", &again, &[], 0);
    assert_eq!(
        expect("plan", &again, &["-o", "json"], 0),
        expect("plan", spec, &["-o", "json"], 0),
        "the rendered spec plans as the original does"
    );
    assert_eq!(
        expect("render", &again, &[], 0),
        rendered,
        "rendering is a fixed point"
    );

    // --target: only rt-1 is created; the plan and the apply say what was left out.
    let plan = expect("plan", &again, &["--target", "rt-1", "-o", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["summary"]["create"], 1, "{plan}");
    assert_eq!(plan["untargeted"][0]["name"], "rt-2", "{plan}");
    assert_eq!(plan["untargeted"][0]["action"], "create", "{plan}");
    let applied = expect("apply", &again, &["--target", "rt-1"], 0);
    assert!(
        applied.contains("+ rt-1 (create)")
            && applied.contains("Not targeted (1 left as they are, for a later apply):")
            && applied.contains("  here: rt-2 (create)"),
        "{applied}"
    );
    let names = |spec: &std::path::Path| {
        containers(spec)
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(spec), ["rt-1"]);
    // Bad targets: a clear error, nothing planned or changed.
    let err = stderr_of(
        &["apply", "-f", spec.to_str().unwrap(), "--target", "rt-3"],
        1,
    );
    assert!(
        err.contains("no container named \"rt-3\" in the spec or on its hosts")
            && err.contains("nothing was changed"),
        "{err}"
    );
    let err = stderr_of(
        &["plan", "-f", spec.to_str().unwrap(), "-l", "tier=back"],
        1,
    );
    assert!(err.contains("no container matches -l tier=back"), "{err}");
    // A selector: the rest of the fleet, from the original spec.
    let rest = expect("apply", spec, &["-l", "tier=front"], 0);
    assert!(
        rest.contains("+ rt-2 (create)") && !rest.contains("rt-1 ("),
        "{rest}"
    );
    expect_no_changes("plan", spec, &["--detailed-exitcode"]);

    // Per-container verbs: only the named container changes, the spec is not edited.
    let before = containers(spec);
    let pid = |seen: &[support::fleetctl::Seen], name: &str| {
        let c = seen.iter().find(|c| c.name == name).unwrap();
        (c.state.clone(), c.pid)
    };
    expect("stop", spec, &["rt-1"], 0);
    let seen = containers(spec);
    assert_eq!(pid(&seen, "rt-1"), ("stopped".to_string(), None));
    assert_eq!(pid(&seen, "rt-2"), pid(&before, "rt-2"), "rt-2 untouched");
    let err = stderr_of(&["stop", "-f", spec.to_str().unwrap(), "rt-1"], 0);
    assert!(err.contains("rt-1 on here is already stopped"), "{err}");
    let status = expect("status", spec, &["--target", "rt-1"], 2);
    assert!(
        status.contains("rt-1") && !status.contains("rt-2"),
        "{status}"
    );
    expect("start", spec, &["rt-1", "-o", "json"], 0);
    let report = expect("restart", spec, &["rt-2", "-o", "json"], 0);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["counts"]["done"], 2, "a stop and a start: {report}");
    let seen = containers(spec);
    for name in ["rt-1", "rt-2"] {
        let (state, now) = pid(&seen, name);
        assert_eq!(state, "running", "{name}");
        assert_ne!(now, pid(&before, name).1, "{name} has a new init");
    }
    let err = stderr_of(&["restart", "-f", spec.to_str().unwrap(), "rt-9"], 1);
    assert!(
        err.contains("the spec has no container named \"rt-9\""),
        "{err}"
    );

    // destroy NAME takes a name the spec dropped (an orphan still on a host), but a name on no
    // host is refused and nothing goes.
    let err = stderr_of(
        &["destroy", "-f", spec.to_str().unwrap(), "rt-9", "--yes"],
        1,
    );
    assert!(
        err.contains("no container named \"rt-9\"") && err.contains("nothing was destroyed"),
        "{err}"
    );
    assert_eq!(containers(spec).len(), 2, "nothing destroyed");

    saved_plans(cluster, spec, fleet);
    logs(spec);
    hosts_and_json(spec);

    // get and destroy by name.
    let one = expect(
        "get",
        spec,
        &["containers", "--target", "rt-2", "-o", "json"],
        0,
    );
    let rows: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{one}");
    expect("destroy", spec, &["rt-2", "--yes"], 0);
    assert_eq!(names(spec), ["rt-1"]);
}

/// `fleet plan --out` and `fleet apply FILE`: exactly the saved plan, or a refusal naming what
/// changed (exit 3), an edited file or another fleet's plan refused (exit 1), nothing changed.
fn saved_plans(cluster: &Cluster, spec: &Path, fleet: &str) {
    let text = std::fs::read_to_string(spec).unwrap();
    let bigger = cluster.dir.path().join("bigger.yaml");
    std::fs::write(&bigger, text.replace("memory: 33554433", "memory: 48Mi")).unwrap();
    let file = cluster.dir.path().join("plan.json");
    let file_s = file.to_str().unwrap();
    let plan = expect("plan", &bigger, &["--out", file_s], 0);
    assert!(plan.contains("~ rt-1 (update live)") && plan.contains("~ rt-2 (update live)"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the plan holds env values: owner only");
    let pid = |name: &str| {
        containers(spec)
            .into_iter()
            .find(|c| c.name == name)
            .and_then(|c| c.pid)
            .unwrap()
    };
    let limit_file = memory_limit_file(pid("rt-1"));
    let before = memory_limit(pid("rt-1"));

    // Edited by hand: refused before any host is asked.
    let saved = std::fs::read_to_string(&file).unwrap();
    let edited = cluster.dir.path().join("edited.json");
    std::fs::write(
        &edited,
        saved.replace("\"prune\": false", "\"prune\": true"),
    )
    .unwrap();
    let err = stderr_of(&["apply", edited.to_str().unwrap()], 1);
    assert!(
        err.contains("was changed after `fleet plan` wrote it"),
        "{err}"
    );
    std::fs::write(&edited, "{not json").unwrap();
    let err = stderr_of(&["apply", edited.to_str().unwrap()], 1);
    assert!(err.contains("not a plan file"), "{err}");
    // Another fleet's spec.
    let other = cluster.dir.path().join("other.yaml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&bigger)
            .unwrap()
            .replace(&format!("fleet: {fleet}"), "fleet: another"),
    )
    .unwrap();
    let err = stderr_of(&["apply", file_s, "-f", other.to_str().unwrap()], 1);
    assert!(
        err.contains(&format!("the plan is for fleet \"{fleet}\"")),
        "{err}"
    );
    // The spec changed since: refused, naming the containers.
    std::fs::write(&bigger, text.replace("memory: 33554433", "memory: 40Mi")).unwrap();
    let err = stderr_of(&["apply", file_s], 3);
    assert!(
        err.contains("is stale; nothing was changed")
            && err
                .contains("the spec changed since the plan: container rt-1 changed, rt-2 changed"),
        "{err}"
    );
    std::fs::write(&bigger, text.replace("memory: 33554433", "memory: 48Mi")).unwrap();
    // A host changed since (a limit written by hand): refused, naming host and container.
    std::fs::write(&limit_file, (16u64 << 20).to_string()).unwrap();
    let err = stderr_of(&["apply", file_s], 3);
    assert!(err.contains("on here: rt-1 changed"), "{err}");
    std::fs::write(&limit_file, before.to_string()).unwrap();
    assert_eq!(memory_limit(pid("rt-1")), before, "nothing was applied");
    // As it was: applied exactly, without asking.
    let applied = run(&["apply", file_s]);
    let out = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(applied.status.code(), Some(0), "{out}");
    assert!(out.contains("Apply complete: 2 done"), "{out}");
    assert_eq!(memory_limit(pid("rt-1")), 48 << 20);
    // Once applied, the hosts have changed: applying it again is refused.
    let err = stderr_of(&["apply", file_s], 3);
    assert!(err.contains("on here: rt-1 changed, rt-2 changed"), "{err}");
    // Back to the spec the rest of the session uses.
    expect("apply", spec, &[], 0);
}

/// `fleet get hosts` says what each node is and what its containers use; `status` and `stop`
/// print JSON for scripts, as every verb that prints state does.
fn hosts_and_json(spec: &Path) {
    let hosts = expect("get", spec, &["hosts", "-o", "json"], 0);
    let hosts: serde_json::Value = serde_json::from_str(&hosts).unwrap();
    let here = &hosts[0];
    assert_eq!(here["host"], "here", "{hosts}");
    assert_eq!(here["containers"], 2, "{here}");
    let node = &here["node"];
    assert!(
        matches!(node["cgroup_version"].as_u64(), Some(1 | 2)),
        "{here}"
    );
    assert!(
        node["kernel"].as_str().is_some_and(|k| !k.is_empty()),
        "{here}"
    );
    assert!(node["capacity"]["cpus"].as_u64() > Some(0), "{here}");
    assert_eq!(node["features"]["overlayfs"], true, "{here}");
    assert!(
        here["used"]["memory"].as_u64() > Some(0),
        "two running containers use memory: {here}"
    );
    let wide = expect("get", spec, &["hosts", "-o", "wide"], 0);
    let head = wide.lines().next().unwrap_or_default();
    for column in ["KERNEL", "CGROUP", "CPUS", "MEMORY", "MEM USED", "FEATURES"] {
        assert!(head.contains(column), "{column}: {wide}");
    }
    assert!(wide.contains("overlayfs"), "{wide}");

    let status = expect("status", spec, &["-o", "json"], 0);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{status}");
    assert!(
        rows.iter()
            .all(|r| r["host"] == "here" && r["status"] == "in sync"),
        "{status}"
    );
    // --target takes set patterns and repeats, as on plan and apply (one parser).
    let count = |targets: &[&str]| {
        let mut args = targets.to_vec();
        args.extend(["-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(&expect("status", spec, &args, 0)).unwrap();
        v.as_array().map(Vec::len)
    };
    assert_eq!(count(&["--target", "rt-{1..1}"]), Some(1));
    assert_eq!(count(&["--target", "rt-1", "--target", "rt-2"]), Some(2));
    let stopped = expect("stop", spec, &["rt-1", "-o", "json"], 0);
    let stopped: serde_json::Value = serde_json::from_str(&stopped).unwrap();
    assert_eq!(stopped["counts"]["done"], 1, "{stopped}");
    expect("start", spec, &["rt-1"], 0);
}

/// `fleet logs`: the console log from the container's host, its last lines, and `--follow`
/// streaming until the user stops it, the node's follower ending with it.
fn logs(spec: &Path) {
    let all = expect("logs", spec, &["rt-1"], 0);
    assert!(all.starts_with("hello from rt-1\n"), "{all}");
    let last = expect("logs", spec, &["rt-1", "--tail", "1"], 0);
    assert_eq!(last.lines().count(), 1, "{last}");
    let mut child = std::process::Command::new(support::fleetctl::fleet_bin())
        .args([
            "logs",
            "-f",
            spec.to_str().unwrap(),
            "rt-2",
            "--follow",
            "--tail",
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = support::fleetctl::stdout_lines(&mut child);
    // Two lines written after the follow began (the container ticks every second).
    for _ in 0..2 {
        let line = rx.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(line.as_deref(), Ok("tick"), "followed output");
    }
    let followers = support::fleetctl::descendants(child.id());
    assert!(!followers.is_empty(), "fleet-node logs runs under fleet");
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = |pid: &u32| !Path::new(&format!("/proc/{pid}")).exists();
    for _ in 0..50 {
        if followers.iter().all(gone) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        followers.iter().all(gone),
        "the node's follower outlived fleet logs: {followers:?}"
    );
    let err = stderr_of(&["logs", "-f", spec.to_str().unwrap(), "rt-7"], 1);
    assert!(
        err.contains("the spec has no container named \"rt-7\""),
        "{err}"
    );
}
