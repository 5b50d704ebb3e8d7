//! `fleet advise` end to end over `transport: local`: real containers, a real memory hog that
//! hits its limit inside one member of a set. The advice raises the set's entry (one of its
//! two members hit the limit), lowers a container that never used half of its limit, edits
//! only those values in the user's text (its comments and layout kept), and applies nothing.

mod support;

use support::fleetctl::{LocalFleet, containers, expect, memory_limit, run};

#[test]
fn a_container_that_hit_its_memory_limit_gets_a_raise_suggested() {
    let Some(local) = LocalFleet::new(
        "advise",
        "  # the workers\n  - name: hog-{1..2}\n    template: busybox\n    \
         command: [\"/bin/sleep\", \"1000000\"]\n    host: here\n    \
         resources: {memory: 32Mi, cpu: {limit: 50%}}   # tight on purpose\n\
         \n  - name: idle\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: here\n    resources:\n      memory: 1Gi\n",
    ) else {
        return;
    };
    let spec = &local.spec;
    expect("apply", spec, &[], 0);
    let before = std::fs::read_to_string(spec).unwrap();

    // A memory hog inside hog-1: the kernel stops it at the limit and counts the hits.
    let hog = run(&[
        "exec",
        "-f",
        spec.to_str().unwrap(),
        "hog-1",
        "--",
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert!(
        !hog.status.success(),
        "the hog must be stopped at its limit"
    );

    let text = expect("advise", spec, &[], 2);
    // The advice, the figures behind it, and how the set's members agree.
    for said in [
        "raise memory of container hog-{1..2} from 32Mi to 48Mi",
        "hog-1 hit its memory limit",
        "failcnt",
        "1 of the 2 containers of container hog-{1..2} hit the limit",
        "lower memory of container idle from 1Gi to ",
        "never used half",
    ] {
        assert!(text.contains(said), "{said:?} missing: {text}");
    }
    // A unified diff of the user's file: only the values change, the comment stays.
    let name = spec.display().to_string();
    assert!(
        text.contains(&format!("--- a/{name}\n+++ b/{name}\n@@ ")),
        "{text}"
    );
    assert!(
        text.contains(
            "\n-    resources: {memory: 32Mi, cpu: {limit: 50%}}   # tight on purpose\n\
             +    resources: {memory: 48Mi, cpu: {limit: 50%}}   # tight on purpose\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n-      memory: 1Gi\n+      memory: "),
        "{text}"
    );
    assert!(
        text.contains("\n     host: here\n"),
        "context lines: {text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&expect("advise", spec, &["-o", "json"], 2)).unwrap();
    let raise = json["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["direction"] == "raise")
        .expect("a raise");
    assert_eq!(raise["from"], 32u64 << 20);
    assert_eq!(raise["to"], 48u64 << 20);
    assert_eq!(raise["containers"], serde_json::json!(["hog-1", "hog-2"]));

    // Nothing applied: the file and the limits are as they were.
    assert_eq!(std::fs::read_to_string(spec).unwrap(), before);
    let hog1 = containers(spec)
        .into_iter()
        .find(|c| c.name == "hog-1")
        .unwrap();
    assert_eq!(memory_limit(hog1.pid.unwrap()), 32 << 20);
}
