//! The operator's CLI (issue 13) driven as a user would, through the real `fleet` binary against
//! a real local node (`transport: local`, the real fleet-node): validate's located errors as
//! JSON, `render -o yaml` as a spec that applies to the same fleet, `--target` and `-l` on
//! plan, apply, status, get and destroy, `fleet start|stop|restart NAME`.

mod support;

use support::fleetctl::{Cleanup, containers, expect, run, write_local_spec};
use support::sshd::{Cluster, skip_unless_ready, unique};

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
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(0);
    let fleet = format!("ops-{}", unique());
    let (spec, _) = write_local_spec(
        &cluster,
        &fleet,
        "  - name: rt-{1..2}\n    template: busybox\n    profile: small\n    \
         command: [\"/bin/sleep\", \"1000000\"]\n    placement: {spread: host}\n    \
         labels: {tier: front}\n    env: {SLOT: \"{index}\"}\n    resources:\n      \
         memory: 33554433\n      disk: {space: 256Mi}\n",
    );
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    // render -o yaml is a spec: it validates, plans as the original, and applies to the same
    // containers (the original then finds nothing to change).
    let rendered = expect("render", &spec, &[], 0);
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
        expect("plan", &spec, &["-o", "json"], 0),
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
    assert_eq!(names(&spec), ["rt-1"]);
    // Bad targets: a clear error, nothing planned or changed.
    let unknown = run(&["apply", "-f", spec.to_str().unwrap(), "--target", "rt-3"]);
    assert_eq!(unknown.status.code(), Some(1));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no container named \"rt-3\" in the spec or on its hosts")
            && err.contains("nothing was changed"),
        "{err}"
    );
    let none = run(&["plan", "-f", spec.to_str().unwrap(), "-l", "tier=back"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no container matches -l tier=back"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    // A selector: the rest of the fleet, from the original spec.
    let rest = expect("apply", &spec, &["-l", "tier=front"], 0);
    assert!(
        rest.contains("+ rt-2 (create)") && !rest.contains("rt-1 ("),
        "{rest}"
    );
    let plan = expect("plan", &spec, &["--detailed-exitcode"], 0);
    assert!(plan.contains("No changes."), "{plan}");

    // Per-container verbs: only the named container changes, the spec is not edited.
    let before = containers(&spec);
    let pid = |seen: &[support::fleetctl::Seen], name: &str| {
        let c = seen.iter().find(|c| c.name == name).unwrap();
        (c.state.clone(), c.pid)
    };
    expect("stop", &spec, &["rt-1"], 0);
    let seen = containers(&spec);
    assert_eq!(pid(&seen, "rt-1"), ("stopped".to_string(), None));
    assert_eq!(pid(&seen, "rt-2"), pid(&before, "rt-2"), "rt-2 untouched");
    let again_stop = run(&["stop", "-f", spec.to_str().unwrap(), "rt-1"]);
    assert_eq!(again_stop.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&again_stop.stderr).contains("rt-1 on here is already stopped"),
        "{}",
        String::from_utf8_lossy(&again_stop.stderr)
    );
    let status = expect("status", &spec, &["--target", "rt-1"], 2);
    assert!(
        status.contains("rt-1") && !status.contains("rt-2"),
        "{status}"
    );
    expect("start", &spec, &["rt-1", "-o", "json"], 0);
    let report = expect("restart", &spec, &["rt-2", "-o", "json"], 0);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["counts"]["done"], 2, "a stop and a start: {report}");
    let seen = containers(&spec);
    for name in ["rt-1", "rt-2"] {
        let (state, now) = pid(&seen, name);
        assert_eq!(state, "running", "{name}");
        assert_ne!(now, pid(&before, name).1, "{name} has a new init");
    }
    let nope = run(&["restart", "-f", spec.to_str().unwrap(), "rt-9"]);
    assert_eq!(nope.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&nope.stderr).contains("the spec has no container named \"rt-9\""),
        "{}",
        String::from_utf8_lossy(&nope.stderr)
    );

    // get and destroy by name.
    let one = expect(
        "get",
        &spec,
        &["containers", "--target", "rt-2", "-o", "json"],
        0,
    );
    let rows: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{one}");
    expect("destroy", &spec, &["rt-2", "--yes"], 0);
    assert_eq!(names(&spec), ["rt-1"]);
}
