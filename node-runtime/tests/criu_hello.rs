//! The hello's CRIU report: a working criu is reported with its version and whether it tracks
//! dirty memory (a note says why not), a configured path that is not a working criu is
//! reported as unusable with a note naming it.

mod support;

use support::{Node, ServeSession};

#[test]
fn the_hello_reports_a_working_criu_and_its_version() {
    let Some(node) = Node::new() else { return };
    let Some(criu) = support::criu() else { return };
    let out = std::process::Command::new(&criu)
        .arg("--version")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let criu = criu.to_str().unwrap();
    let mut session = ServeSession::open_with(&node, &["--criu", criu]);
    let features = &session.hello["features"];
    assert_eq!(features["criu"], true, "{features}");
    let version = features["criu_version"].as_str().unwrap();
    assert!(
        printed.contains(&format!("Version: {version}")),
        "{version} vs {printed}"
    );
    // Dirty tracking, as criu itself says (this host's kernel has none; the VMs' have it).
    let tracks = std::process::Command::new(criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .unwrap()
        .status
        .success();
    assert_eq!(features["criu_mem_dirty_track"], tracks, "{features}");
    let criu_notes: Vec<&str> = features["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| n.contains("criu"))
        .collect();
    if tracks {
        assert!(criu_notes.is_empty(), "{features}");
    } else {
        assert_eq!(criu_notes.len(), 1, "{features}");
        assert!(
            criu_notes[0].contains("no memory dirty tracking")
                && criu_notes[0].contains("mem_dirty_track")
                && criu_notes[0].ends_with(fleet_protocol::live::NO_PRE_DUMPS),
            "{features}"
        );
    }
    session.close();
}

#[test]
fn a_configured_criu_that_does_not_exist_is_reported_unusable_with_its_path() {
    let Some(node) = Node::new() else { return };
    let mut session = ServeSession::open_with(&node, &["--criu", "/nonexistent/bin/criu"]);
    let features = &session.hello["features"];
    assert_eq!(features["criu"], false, "{features}");
    assert!(features.get("criu_version").is_none(), "{features}");
    let notes = features["notes"].to_string();
    assert!(notes.contains("/nonexistent/bin/criu"), "{notes}");
    session.close();
}
