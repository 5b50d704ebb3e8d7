//! What the spec-error tests share: resolve a bad spec and read its diagnostics as a user sees
//! them (spec_errors.rs, spec_errors_resources.rs).
#![allow(dead_code)] // each test file uses its own part of it

use fleet::resolve;

/// Resolves `input` as `fleet.yaml` and compares every rendered diagnostic with `expected`.
pub fn check(input: &str, expected: &str) {
    let err = match resolve::load_str("fleet.yaml", input) {
        Ok(_) => panic!("expected errors, the spec resolved:\n{input}"),
        Err(e) => e,
    };
    let got = err.render();
    assert_eq!(got.trim(), expected.trim(), "\n--- got:\n{got}");
}

/// The message of every diagnostic, in file order.
pub fn messages(input: &str) -> Vec<String> {
    let err = resolve::load_str("fleet.yaml", input).unwrap_err();
    err.diagnostics.iter().map(|d| d.message.clone()).collect()
}

/// The first rendered line (`file:line:col: error: message`) of every diagnostic.
pub fn headlines(input: &str) -> Vec<String> {
    let err = resolve::load_str("fleet.yaml", input).unwrap_err();
    err.diagnostics
        .iter()
        .map(|d| d.render(&err.sources).lines().next().unwrap().to_string())
        .collect()
}

pub const HEAD: &str = "apiVersion: fleet/v1\nfleet: t\n";

pub fn spec(body: &str) -> String {
    format!("{HEAD}{body}")
}
