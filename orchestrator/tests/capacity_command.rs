//! `fleet capacity` end to end: a spec file in, the table, JSON and HTML out, and bad input
//! refused with a message saying what would be valid.

use std::path::Path;
use std::process::{Command, Output};

fn spec(dir: &Path) -> std::path::PathBuf {
    let mut hosts = String::new();
    for (name, zone, cpus, memory) in [
        ("node-1", "a", 8, "32Gi"),
        ("node-2", "a", 8, "32Gi"),
        ("node-3", "b", 16, "64Gi"),
        ("node-4", "b", 16, "64Gi"),
    ] {
        hosts.push_str(&format!(
            "  - name: {name}\n    transport: local\n    labels: {{zone: {zone}}}\n    \
             capacity: {{cpus: {cpus}, memory: {memory}, disk: 500Gi}}\n    overcommit: {{cpu: 2}}\n"
        ));
    }
    let text = format!(
        "apiVersion: fleet/v1\nfleet: cap\nhosts:\n{hosts}profiles:\n  - name: db\n    extends: large\n    \
         memory: 16Gi\ncontainers:\n  - name: web-{{01..12}}\n    template: busybox\n    profile: medium\n    \
         command: [\"/bin/sleep\", \"1000\"]\n    placement: {{spread: zone}}\n  - name: db-{{1..2}}\n    \
         template: busybox\n    profile: db\n    command: [\"/bin/sleep\", \"1000\"]\n    \
         placement: {{spread: host, selector: {{zone: b}}}}\n"
    );
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn fleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleet"))
        .arg("capacity")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn table_with_fit_drain_and_hosts_needed() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path());
    let f = f.to_str().unwrap();
    let o = fleet(&[
        "-f",
        f,
        "--fit",
        "db",
        "--on",
        "zone=b",
        "--drain",
        "node-3",
        "--hosts-needed",
        "node-3",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.starts_with("fleet cap: 4 hosts, "), "{out}");
    // The spec's own profile resolves through its extends chain: large's cpu, the spec's memory.
    assert!(
        out.contains("fit db (cpu 400%, memory 16Gi, disk 50Gi)"),
        "{out}"
    );
    assert!(
        out.contains("drain node-3: its containers fit on the other hosts"),
        "{out}"
    );
    assert!(
        out.contains("hosts needed (each cpu 3200%, memory 64Gi, disk 500Gi): at least"),
        "{out}"
    );
}

#[test]
fn json_and_html_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path());
    let f = f.to_str().unwrap();
    let o = fleet(&["-f", f, "-o", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["density"]["placed"], 14);
    assert_eq!(v["density"]["hosts"].as_array().unwrap().len(), 4);

    let html = dir.path().join("report.html");
    let o = fleet(&[
        "-f",
        f,
        "-o",
        "html",
        "--out",
        html.to_str().unwrap(),
        "--what-if",
        f,
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(o.stdout.is_empty(), "the report goes to the file");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("class=\"bar\"") && page.contains("What if") && !page.contains("<script")
    );
}

#[test]
fn overfull_fleets_and_bad_input_exit_1_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path());
    let f = f.to_str().unwrap();
    for (args, says) in [
        (vec!["--fit", "dbb"], "--fit dbb: unknown profile"),
        (vec!["--fit", "cpu=lots"], "invalid percentage"),
        (
            vec!["--drain", "node-9"],
            "cannot drain host node-9: the fleet has no such host",
        ),
        (
            vec!["--hosts-needed", "cpus=4"],
            "must give cpus, memory and disk",
        ),
        (vec!["--fit", "db", "--on", "zone"], "expected LABEL=VALUE"),
    ] {
        let mut all = vec!["-f", f];
        all.extend(args.iter().copied());
        let o = fleet(&all);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}\n{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Two 30Gi containers on the zone-b hosts leave neither room for the other's load:
    // draining one of them cannot work, and the exit status says so.
    let big = dir.path().join("big.yaml");
    std::fs::write(
        &big,
        "apiVersion: fleet/v1\ncontainers:\n  - name: big-{1..2}\n    template: busybox\n    \
         profile: medium\n    command: [\"/bin/true\"]\n    resources: {memory: 30Gi}\n    \
         placement: {selector: {zone: b}}\n",
    )
    .unwrap();
    let o = fleet(&["-f", f, "-f", big.to_str().unwrap(), "--drain", "node-3"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("drain node-3: its containers do NOT all fit"),
        "{out}"
    );
    assert!(
        out.contains("memory on every host with zone=b is full"),
        "{out}"
    );
}

/// `fleet-node` built next to this test binary, if the workspace build made it.
fn node_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let node = dir.join("fleet-node");
    node.is_file().then_some(node)
}

#[test]
fn observe_takes_capacity_the_spec_leaves_out_from_the_node() {
    let Some(node) = node_binary() else {
        let why = "fleet-node is not built next to the tests (run cargo test --workspace)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("node-root");
    let unique = format!("fleet-test-capacity-{}", std::process::id());
    let spec = dir.path().join("fleet.yaml");
    std::fs::write(
        &spec,
        format!(
            "apiVersion: fleet/v1\nfleet: {unique}\nhosts:\n  - name: here\n    transport: local\n    \
             node: {{path: {}, root: {}, cgroup_parent: {unique}}}\ncontainers:\n  - name: web-{{1..2}}\n    \
             template: busybox\n    profile: small\n    command: [\"/bin/sleep\", \"1000\"]\n",
            node.display(),
            root.display()
        ),
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    // Without --observe the host's capacity is unknown.
    let (out, _) = text(&fleet(&["-f", spec]));
    assert!(out.contains("here ?"), "{out}");
    // With it, the node's hello fills it in, flagged as coming from the node.
    let o = fleet(&["-f", spec, "--observe", "-o", "json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let host = &v["density"]["hosts"][0];
    assert_eq!(host["capacity_known"], true, "{err}");
    assert_eq!(
        host["observed_fields"],
        serde_json::json!(["cpus", "memory", "disk"])
    );
    let cpus = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(host["lines"][0]["capacity"], cpus * 100);
    // Nothing runs yet: the node says so, and used is zero rather than unknown.
    assert_eq!(host["usage_observed"], true, "{out}");
    assert_eq!(host["lines"][1]["used"], 0, "{out}");

    // Once the containers run, used memory is what their cgroups hold.
    let _cleanup = Destroy(spec.to_string(), unique.clone());
    let applied = Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["apply", "-f", spec])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{:?}", text(&applied));
    let o = fleet(&["-f", spec, "--observe", "-o", "json"]);
    let (out, _) = text(&o);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let used_memory = v["density"]["hosts"][0]["lines"][1]["used"]
        .as_u64()
        .unwrap();
    assert!(used_memory > 0, "{out}");
    let held: u64 = ["web-1", "web-2"]
        .iter()
        .map(|c| {
            let path = format!("/sys/fs/cgroup/memory/{unique}/{c}/memory.usage_in_bytes");
            std::fs::read_to_string(&path).map_or(0, |t| t.trim().parse().unwrap_or(0))
        })
        .sum();
    if held > 0 {
        // cgroup v1 here: the report's figure is the sum of the containers' memory cgroups,
        // read a moment apart, so allow for the page or two a sleeping busybox may touch.
        assert!(
            used_memory.abs_diff(held) < 1 << 20,
            "{used_memory} vs {held}"
        );
    }
}

/// Removes the test fleet's containers, then its (empty) cgroup parent, when the test ends,
/// even when it fails.
struct Destroy(String, String);

impl Drop for Destroy {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args(["destroy", "-f", &self.0, "--yes"])
            .output();
        if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in controllers.flatten() {
                let _ = std::fs::remove_dir(c.path().join(&self.1));
            }
        }
    }
}

#[test]
fn unknown_capacity_says_unknown_and_a_one_host_drain_says_why() {
    // Issue 13, defect 9: without --observe and without declared capacity the table showed
    // "0% of 0" and --fit "0 more"; --drain on a one-host fleet gave a muddled reason and still
    // counted the drained host's capacity.
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        "apiVersion: fleet/v1\nfleet: u\nhosts:\n  - {name: here, transport: local}\ncontainers:\n  - name: web-{1..2}\n    template: busybox\n    profile: small\n    command: [\"/bin/sleep\", \"1000\"]\n",
    )
    .unwrap();
    let o = fleet(&["-f", unknown.to_str().unwrap(), "--fit", "small"]);
    let (out, err) = text(&o);
    assert!(
        out.contains("capacity unknown on every host") && !out.contains("0 more"),
        "{out}\n{err}"
    );
    assert!(out.contains("TOTAL (known)"), "{out}");
    assert!(
        !out.contains("(0%)"),
        "no share of an unknown capacity: {out}"
    );

    let one = dir.path().join("one.yaml");
    std::fs::write(
        &one,
        "apiVersion: fleet/v1\nfleet: o\nhosts:\n  - name: solo\n    transport: local\n    capacity: {cpus: 8, memory: 16Gi, disk: 100Gi}\ncontainers:\n  - name: web-{1..2}\n    template: busybox\n    profile: small\n    command: [\"/bin/sleep\", \"1000\"]\n",
    )
    .unwrap();
    let o = fleet(&["-f", one.to_str().unwrap(), "--drain", "solo"]);
    let (out, err) = text(&o);
    assert!(
        out.contains("drain solo: the fleet has no other host to take its containers")
            && out.contains("nowhere: the fleet has no host but solo"),
        "{out}\n{err}"
    );
    let after = out.split("after the drain:").nth(1).unwrap_or_default();
    assert!(
        after.contains("fleet o: 0 hosts") && !after.contains("16Gi"),
        "the drained host's capacity is not counted after the drain: {after}"
    );
    // The HTML says the same, and calls nothing unknown.
    let page = dir.path().join("one.html");
    let o = fleet(&[
        "-f",
        one.to_str().unwrap(),
        "--drain",
        "solo",
        "-o",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let page = std::fs::read_to_string(&page).unwrap();
    let after = page.split("After the drain").nth(1).unwrap_or_default();
    assert!(
        page.contains("the fleet has no other host to take its containers")
            && after.contains("0 hosts, 0 in use")
            && !after.contains("unknown")
            && !after.contains("16Gi"),
        "{after}"
    );
}
