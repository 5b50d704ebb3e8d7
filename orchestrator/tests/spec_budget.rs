//! The loader's budgets tell a big spec from an alias bomb: a 100,000-container fleet written one
//! entry per container is accepted, while a small file whose aliases expand to as many values is
//! refused, with the place of the alias that crossed the budget.
//!
//! The 100,000-entry file goes through the parser and its budgets (a debug build reads it in a few
//! seconds); the whole load, validation and render at that size is the spec benchmark's job
//! (`cargo run --release -p fleet --example spec_bench`), where its time is measured.

use fleet::resolve;
use fleet::spec::build::{self, ALIAS_ALLOWANCE, ALIAS_FACTOR, MAX_VALUES};
use fleet::spec::node;

#[path = "../examples/gen_spec.rs"]
#[allow(dead_code)]
mod gen_spec;

/// Values of `text`, counted as the parser builds them, items dropped as they complete.
fn values(text: &str) -> Result<usize, node::ParseError> {
    let mut items = 0;
    let mut count = |_: usize, _: &str, item: node::Node| {
        items += item.values();
        None
    };
    let docs = build::parse_streaming(text, 0, &mut count)?;
    Ok(items + docs.iter().map(node::Node::values).sum::<usize>())
}

/// A "billion laughs" file: each level a list of ten aliases to the one before, then a last list
/// of `last` aliases to level `levels - 1`. Returns the text and the values it expands to.
fn bomb(levels: usize, last: usize) -> (String, usize) {
    let mut text = String::from("apiVersion: fleet/v1\nfleet: x\n");
    text.push_str("l0: &l0 [a, b, c, d, e, f, g, h, i, j]\n");
    let mut size = 11;
    for i in 1..levels {
        let aliases = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("l{i}: &l{i} [{aliases}]\n"));
        size = 1 + 10 * size;
    }
    let aliases = vec![format!("*l{}", levels - 1); last].join(", ");
    text.push_str(&format!("boom: [{aliases}]\n"));
    (text, 1 + last * size)
}

#[test]
fn a_100k_container_spec_is_accepted_and_an_alias_bomb_of_its_size_refused() {
    let big = gen_spec::generate_shape(5_000, 100_000, false, gen_spec::Shape::Inventory);
    let written = values(&big).expect("a 100,000-container spec is within the budgets");
    // The old flat budget of 4,000,000 values refused this file; the ceiling is well above it.
    assert!(written > 4_000_000, "{written} values");
    assert!(written * 3 < MAX_VALUES, "{written} values");
    drop(big);

    // Six levels of ten and a last list enough to reach the big spec's size, in 12 lines.
    let (text, expands_to) = bomb(6, written / 111_111 + 1);
    assert!(expands_to >= written);
    assert!(text.len() < 100_000);
    let err = resolve::load_str("bomb.yaml", &text).unwrap_err();
    let rendered = err.render();
    assert_eq!(err.diagnostics.len(), 1, "{rendered}");
    // Levels 1-4 expand to 123,440 values; level 5 crosses the allowance of 1,000,000 plus 16
    // times the ~80 written values at its 9th alias: line 8 (l5), column 5 + 6 x 5.
    assert!(
        rendered.starts_with("bomb.yaml:8:"),
        "refused at the alias that crossed the budget: {rendered}"
    );
    assert!(rendered.contains("alias bomb"), "{rendered}");
    assert!(
        rendered.contains(&format!("{ALIAS_FACTOR} times")),
        "{rendered}"
    );
    let _ = ALIAS_ALLOWANCE;
}

#[test]
fn aliases_in_proportion_to_the_file_are_accepted() {
    // A shared resources block used by every one of 5,000 containers: the expansion (10 values
    // each) stays within 16 times what is written.
    let mut text = String::from(
        "apiVersion: fleet/v1\nfleet: x\nhosts:\n  - {name: h, transport: local}\ncontainers:\n",
    );
    for i in 0..5_000 {
        text.push_str(&format!(
            "  - name: c{i}\n    template: busybox\n    command: [sleep, '1']\n    resources: {}\n",
            if i == 0 {
                "&r {memory: 64Mi, pids: 100, cpu: {units: 500, limit: 50%}}"
            } else {
                "*r"
            }
        ));
    }
    let fleet =
        resolve::load_str("shared.yaml", &text).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(fleet.containers.len(), 5_000);
    assert_eq!(fleet.containers[0].spec.resources.pids, Some(100));
}
