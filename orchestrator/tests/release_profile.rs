//! Release binaries ship without full debuginfo (issue 13: they were 39 MB each; the sizes
//! after the change are in docs/decisions.md, "Packaging"). A release build is too slow for
//! every CI run on two cores, so this guards the workspace's release profile that makes it so,
//! and the `release-lines` profile that keeps line tables for those who want them.

use std::collections::BTreeMap;

/// The `key = value` lines of `[section]` in the workspace's Cargo.toml.
fn section(name: &str) -> BTreeMap<String, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let text = std::fs::read_to_string(manifest).expect("read the workspace Cargo.toml");
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn release_builds_carry_no_debuginfo_and_line_tables_are_a_profile_away() {
    let release = section("profile.release");
    assert_eq!(
        release.get("debug").map(String::as_str),
        Some("false"),
        "{release:?}"
    );
    assert_eq!(
        release.get("strip").map(String::as_str),
        Some("\"debuginfo\""),
        "{release:?}"
    );
    let lines = section("profile.release-lines");
    assert_eq!(
        lines.get("inherits").map(String::as_str),
        Some("\"release\"")
    );
    assert_eq!(
        lines.get("debug").map(String::as_str),
        Some("\"line-tables-only\"")
    );
}
