//! What the spec-error tests share: resolve a bad spec and read its diagnostics as a user sees
//! them (spec_errors.rs, spec_errors_resources.rs).
#![allow(dead_code)] // each test file uses its own part of it

use fleet::resolve::{self, LoadError};

/// Resolves `input` as `fleet.yaml` and compares every rendered diagnostic with `expected`.
pub fn check(input: &str, expected: &str) {
    let err = match resolve::load_str("fleet.yaml", input) {
        Ok(_) => panic!("expected errors, the spec resolved:\n{input}"),
        Err(e) => e,
    };
    let got = err.render();
    assert_eq!(got.trim(), expected.trim(), "\n--- got:\n{got}");
}

/// One table row: what the case shows, the spec body after [`HEAD`], and what is expected.
pub type Case<'a, T> = (&'a str, &'a str, T);

/// Resolves each case's body and compares every rendered diagnostic with its expected text;
/// fails naming each case that differs, after trying them all.
pub fn check_rendered(cases: &[Case<&str>]) {
    let lines = |text: &str| text.trim().lines().map(str::to_string).collect::<Vec<_>>();
    check_each(
        cases,
        |e| lines(&e.render()),
        |want, got| lines(want) == got,
    );
}

/// Resolves each case's body and compares the first rendered line of every diagnostic with its
/// expected lines; fails naming each case that differs, after trying them all.
pub fn check_headlines(cases: &[Case<&[&str]>]) {
    check_each(cases, first_lines, |want, got| want == got);
}

/// Like [`check_headlines`], with each first line given by how it starts and how it ends.
pub fn check_headline_ends(cases: &[Case<&[(&str, &str)]>]) {
    check_each(cases, first_lines, |want, got| {
        want.len() == got.len()
            && want
                .iter()
                .zip(got)
                .all(|((start, end), line)| line.starts_with(start) && line.ends_with(end))
    });
}

/// Resolves each case's body and compares every diagnostic's message with its expected
/// messages; fails naming each case that differs, after trying them all.
pub fn check_messages(cases: &[Case<&[&str]>]) {
    check_each(
        cases,
        |e| e.diagnostics.iter().map(|d| d.message.clone()).collect(),
        |want, got| want == got,
    );
}

/// Resolves every case, reads what `got` takes from its errors and fails, after trying them all,
/// naming each case whose errors do not `match` what it expects (or that resolved).
fn check_each<T: Copy + Expected>(
    cases: &[Case<T>],
    got: impl Fn(&LoadError) -> Vec<String>,
    matches: impl Fn(T, &[String]) -> bool,
) {
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|&(case, body, expected)| {
            let got = match resolve::load_str("fleet.yaml", &spec(body)) {
                Ok(_) => return Some(format!("{case}: no errors, the spec resolved")),
                Err(e) => got(&e),
            };
            (!matches(expected, &got)).then(|| {
                format!(
                    "{case}:\n--- expected:\n{}\n--- got:\n{}",
                    expected.show(),
                    got.join("\n")
                )
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n\n")
    );
}

/// What a case expects, shown as the lines it stands for.
trait Expected {
    fn show(self) -> String;
}

impl Expected for &str {
    fn show(self) -> String {
        self.trim().to_string()
    }
}

impl Expected for &[&str] {
    fn show(self) -> String {
        self.join("\n")
    }
}

impl Expected for &[(&str, &str)] {
    fn show(self) -> String {
        let lines: Vec<String> = self
            .iter()
            .map(|(start, end)| format!("{start}...{end}"))
            .collect();
        lines.join("\n")
    }
}

fn first_lines(err: &LoadError) -> Vec<String> {
    err.diagnostics
        .iter()
        .map(|d| d.render(&err.sources).lines().next().unwrap().to_string())
        .collect()
}

/// The message of every diagnostic, in file order.
pub fn messages(input: &str) -> Vec<String> {
    let err = resolve::load_str("fleet.yaml", input).unwrap_err();
    err.diagnostics.iter().map(|d| d.message.clone()).collect()
}

/// The first rendered line (`file:line:col: error: message`) of every diagnostic.
pub fn headlines(input: &str) -> Vec<String> {
    first_lines(&resolve::load_str("fleet.yaml", input).unwrap_err())
}

pub const HEAD: &str = "apiVersion: fleet/v1\nfleet: t\n";

pub fn spec(body: &str) -> String {
    format!("{HEAD}{body}")
}
