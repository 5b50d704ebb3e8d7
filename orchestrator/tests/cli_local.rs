//! The operator's CLI (issue 13) driven as a user would, through the real `fleet` binary against
//! a real local node (`transport: local`, the real fleet-node): validate's located errors as
//! JSON, `render -o yaml` as a spec that applies to the same fleet.

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

#[test]
fn rendered_spec_validates_and_applies_to_the_same_fleet() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(0);
    let fleet = format!("render-{}", unique());
    let (spec, _) = write_local_spec(
        &cluster,
        &fleet,
        "  - name: rt-{1..2}\n    template: busybox\n    profile: small\n    \
         command: [\"/bin/sleep\", \"1000000\"]\n    placement: {spread: host}\n    \
         env: {SLOT: \"{index}\"}\n    resources:\n      memory: 33554433\n      \
         disk: {space: 256Mi}\n",
    );
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    let rendered = expect("render", &spec, &[], 0);
    assert!(rendered.starts_with("apiVersion: fleet/v1\n"), "{rendered}");
    // Sizes in the spec's units; one that no unit divides stays in bytes.
    assert!(
        rendered.contains("memory: 33554433") && rendered.contains("space: 256Mi"),
        "{rendered}"
    );
    assert!(
        rendered.contains("SLOT: '1'") || rendered.contains("SLOT: \"1\""),
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
    // Applied from the rendered text, the original spec finds nothing to change.
    expect("apply", &again, &[], 0);
    assert_eq!(containers(&spec).len(), 2);
    let plan = expect("plan", &spec, &["--detailed-exitcode"], 0);
    assert!(plan.contains("No changes."), "{plan}");
    assert_eq!(
        expect("render", &again, &[], 0),
        rendered,
        "rendering is a fixed point"
    );
}
