//! The loader never panics or hangs, whatever the bytes: arbitrary input, mutations of a valid
//! spec, deep nesting and alias bombs. A bounded run (proptest cases below) is part of every CI run.

use fleet::resolve;
use proptest::prelude::*;

const VALID: &str = include_str!("../../specs/local-demo.yaml");

/// Bytes that matter to YAML and to our own syntax, to make mutations interesting.
const SPICE: &[&str] = &[
    ":",
    "-",
    "{",
    "}",
    "[",
    "]",
    "&a",
    "*a",
    "<<: *a",
    "!!str",
    "\n",
    "  ",
    "'",
    "\"",
    "#",
    "---",
    "{1..99999}",
    "{index}",
    "..",
    "/",
    "~",
    "null",
    "0x",
    "-1",
    "1e400",
    "Mi",
    "%",
    "\t",
    "\u{0}",
];

fn mutate(base: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut text: Vec<char> = base.chars().collect();
    for &(kind, at, spice) in edits {
        let at = at % (text.len() + 1);
        match kind % 3 {
            0 => {
                let s: Vec<char> = SPICE[spice % SPICE.len()].chars().collect();
                text.splice(at..at, s);
            }
            1 if at < text.len() => {
                text.remove(at);
            }
            _ => text.truncate(at.max(1)),
        }
    }
    text.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = resolve::load_str("fuzz.yaml", &text);
    }

    #[test]
    fn mutated_valid_specs_never_panic(edits in proptest::collection::vec((0usize..3, 0usize..2000, 0usize..64), 1..8)) {
        let text = mutate(VALID, &edits);
        if let Err(e) = resolve::load_str("fuzz.yaml", &text) {
            // Every diagnostic renders, and located ones point inside the file.
            let rendered = e.render();
            prop_assert!(!rendered.is_empty());
            for d in &e.diagnostics {
                if let Some(pos) = d.pos {
                    prop_assert!(pos.line as usize <= text.lines().count() + 1, "{rendered}");
                }
            }
        }
    }
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!(
        "apiVersion: fleet/v1\nfleet: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(resolve::load_str("deep.yaml", &text).is_err());
    let mut nested = String::from("apiVersion: fleet/v1\nfleet: x\nhosts:\n");
    for depth in 0..500 {
        nested.push_str(&"  ".repeat(depth + 1));
        nested.push_str("- \n");
    }
    assert!(resolve::load_str("deep.yaml", &nested).is_err());
}

#[test]
fn billion_laughs_is_refused() {
    let mut text = String::from(
        "apiVersion: fleet/v1\nfleet: x\nlol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "lol{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let err = resolve::load_str("bomb.yaml", &text).unwrap_err();
    assert!(!err.diagnostics.is_empty());
}

#[test]
fn huge_sets_are_refused_before_expansion() {
    let text = "apiVersion: fleet/v1\nfleet: x\ncontainers:\n  - name: c{1..99999999999}\n    template: busybox\n    command: [x]\n";
    let err = resolve::load_str("big.yaml", text).unwrap_err();
    assert!(
        err.diagnostics[0].message.contains("at most"),
        "{}",
        err.render()
    );
}

#[test]
fn oversized_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(fleet::spec::source::MAX_FILE_BYTES + 1)
        .unwrap();
    let err = resolve::load(&[path]).unwrap_err();
    assert!(
        err.render().contains("spec files may be at most"),
        "{}",
        err.render()
    );
}
