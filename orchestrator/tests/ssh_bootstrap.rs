//! `fleet bootstrap` over real sshds: installs fleet-node where it is missing (same bytes,
//! executable), leaves an identical one alone, says which version answers on each host (as
//! `fleet get hosts` does), and the installed node then answers `fleet plan`. A host of another
//! machine (`uname -m`) is refused by name, and a file that is no fleet-node before any host is
//! touched.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::fleetctl::{Cleanup, Set, expect, write_spec};
use support::sshd::{Cluster, fleet_node};

#[test]
fn bootstrap_installs_then_is_idempotent_and_the_node_answers() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let node = fleet_node().unwrap();
    let spec = write_spec(
        &cluster,
        "boot.yaml",
        "boot",
        &[Set {
            prefix: "b".into(),
            count: 1,
            host: 0,
            memory: "32Mi".into(),
        }],
    );
    // Point every host at a path where nothing is installed yet.
    let install_dir = cluster.dir.path().join("installed");
    let text = std::fs::read_to_string(&spec).unwrap();
    let mut fixed = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("path: ") {
            let dir = install_dir.join(format!("h{i}"));
            fixed.push_str(&format!("      path: {}/fleet-node\n", dir.display()));
        } else {
            fixed.push_str(line);
            fixed.push('\n');
        }
    }
    std::fs::write(&spec, fixed).unwrap();
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    // Before: the node is missing, and plan says what to do.
    let plan = support::fleetctl::run(&["plan", "-f", spec.to_str().unwrap()]);
    assert_eq!(plan.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(stderr.contains("fleet bootstrap"), "{stderr}");

    let node_arg = node.display().to_string();
    let out = expect("bootstrap", &spec, &["--node-binary", &node_arg], 0);
    assert_eq!(out.matches(": installed (sha256 ").count(), 2, "{out}");
    // This machine runs no systemd: the unit is not installed, and each host says so.
    assert_eq!(
        out.matches(
            ": no systemd on this host (no /run/systemd/system): fleet-node.service not installed"
        )
        .count(),
        2,
        "{out}"
    );
    let runs = format!("; runs fleet-node {} (protocol ", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        out.matches(&runs).count(),
        2,
        "each host says its version: {out}"
    );
    let want = std::fs::read(&node).unwrap();
    let mut installed = 0;
    for entry in walk(&install_dir) {
        if entry.file_name().is_some_and(|n| n == "fleet-node") {
            assert_eq!(std::fs::read(&entry).unwrap(), want, "{}", entry.display());
            let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{} is not executable", entry.display());
            installed += 1;
        } else {
            panic!("left behind: {}", entry.display());
        }
    }
    assert_eq!(installed, 2);

    let again = expect("bootstrap", &spec, &["--node-binary", &node_arg], 0);
    assert_eq!(again.matches(": up to date").count(), 2, "{again}");
    assert_eq!(again.matches(&runs).count(), 2, "{again}");
    let json = expect(
        "bootstrap",
        &spec,
        &["--node-binary", &node_arg, "-o", "json"],
        0,
    );
    let rows: serde_json::Value = serde_json::from_str(&json).expect("bootstrap -o json");
    let rows = rows.as_array().expect("one object per host");
    assert_eq!(rows.len(), 2, "{json}");
    for (row, host) in rows.iter().zip(["node-0", "node-1"]) {
        assert_eq!(row["host"], host, "{json}");
        assert_eq!(row["outcome"], "up_to_date", "{json}");
        assert!(row["error"].is_null(), "{json}");
        assert!(
            row["version"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!(
                    "fleet-node {} (protocol ",
                    env!("CARGO_PKG_VERSION")
                ))),
            "{json}"
        );
    }

    let hosts = expect("get", &spec, &["hosts"], 0);
    let version = env!("CARGO_PKG_VERSION");
    for host in ["node-0", "node-1"] {
        let row = hosts
            .lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_else(|| panic!("no row for {host}:\n{hosts}"));
        assert!(
            row.contains("reachable") && row.contains(&format!(" {version} ")),
            "{row}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&expect("get", &spec, &["hosts", "-o", "json"], 0)).unwrap();
    assert_eq!(json[0]["host"], "node-0");
    assert_eq!(json[0]["node"]["node_version"], version);
    assert!(
        json[1]["node"]["kernel"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    let plan = expect("plan", &spec, &[], 0);
    assert!(plan.contains("Plan: 1 to create"), "{plan}");
}

#[test]
fn a_host_of_another_machine_is_refused_by_name_and_left_untouched() {
    let Some(cluster) = Cluster::start_if_ready(1) else {
        return;
    };
    // The sshd's sessions source $HOME/.bashrc (Debian's bash does for ssh commands): put a
    // `uname` first on PATH that says aarch64 for -m, as an ARM host would.
    let fake = cluster.dir.path().join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(
        fake.join("uname"),
        "#!/bin/sh\nif [ \"$1\" = -m ]; then echo aarch64; else exec /bin/uname \"$@\"; fi\n",
    )
    .unwrap();
    std::fs::set_permissions(fake.join("uname"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        cluster.dir.path().join("home/.bashrc"),
        format!("PATH={}:$PATH\n", fake.display()),
    )
    .unwrap();
    let spec = write_spec(&cluster, "arm.yaml", "arm", &[]);
    let dest = cluster.dir.path().join("installed/fleet-node");
    let text = std::fs::read_to_string(&spec).unwrap();
    let fixed: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("path: ") {
                format!("      path: {}\n", dest.display())
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&spec, fixed).unwrap();
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    let node = fleet_node().unwrap();
    let out = support::fleetctl::run(&[
        "bootstrap",
        "-f",
        spec.to_str().unwrap(),
        "--node-binary",
        node.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: node-0: host node-0 is aarch64 (uname -m), but")
            && stderr.contains("is built for x86_64"),
        "{stderr}"
    );
    assert!(
        !dest.exists(),
        "nothing may be installed on a host it cannot run on"
    );
    assert!(
        !cluster.dir.path().join("installed").exists(),
        "not even the directory"
    );
}

#[test]
fn a_file_that_is_no_fleet_node_is_refused_before_any_host_is_touched() {
    // The embedded demo fleet: its one host is this machine, which must stay as it is.
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let out = support::fleetctl::run(&["bootstrap", "--node-binary", readme]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("README.md is not a fleet-node binary") && stderr.contains("no ELF header"),
        "{stderr}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
