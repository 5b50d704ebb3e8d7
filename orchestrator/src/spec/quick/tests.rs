//! The quick scanner against the full parser: wherever it reads a text, its events must be the
//! full parser's, position for position; where it cannot, it must say so rather than guess.

use super::*;
use crate::spec::events::{Reader, Stop, for_each_event};

/// Events as the builder sees them; the position of an end is not used, so not compared.
fn normalized(mut events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    for e in &mut events {
        if e.kind == Kind::End {
            e.pos = Pos::default();
        }
    }
    events
}

fn full(text: &str) -> Result<Vec<Event<'_>>, Stop> {
    let mut seen = Vec::new();
    for_each_event(text, 2, Reader::Full, &mut |e| {
        seen.push(e);
        Ok(())
    })?;
    Ok(normalized(seen))
}

fn quick(text: &str) -> Option<Vec<Event<'_>>> {
    let mut seen = Vec::new();
    scan(text, 2, &mut |e| {
        seen.push(e);
        true
    })
    .ok()?;
    Some(normalized(seen))
}

/// Holds the quick scanner to the full parser on `text`; returns whether it read it.
fn agree(text: &str) -> bool {
    let Some(q) = quick(text) else {
        return false;
    };
    match full(text) {
        Ok(f) => assert_eq!(q, f, "the readers differ on {text:?}"),
        Err(e) => panic!("quick read {text:?}, which the full parser refuses: {e:?}"),
    }
    true
}

/// Texts inside the subset: the quick scanner must read each, exactly as the full parser does.
const READ: &[&str] = &[
    "a: 1\n",
    "a: 1",
    "a:\n  b: c\n  d: [1, 2]\n",
    "a:\n- x\n- y\nb: z\n",
    "- a\n- b: c\n  d: e\n-\n- [x, {y: z}]\n",
    "# c\n\nkey: value # note\n  # indented comment\nother: 'single' # x\n",
    "a: \"quoted #x\"\nb: 'it is'\n\"c d\": e\n'f': g\n",
    "list:\n  - name: x\n    labels: {a: b, c: d}\n    empty:\n  - name: y\n",
    "a:\nb:\n",
    "a: b c d\nurl: http://x/y:z\nn: -3\np: .5\nq: ~\nr: a,b[c]{d}\n",
    "flow: [a, [b, [c]], {d: [e]}, {}, []]\n",
    "flow: {a: b c, d: 'e f', g: [1, 2]}\n",
    "---\na: 1\n---\n- b\n",
    "  indented: root\n  more: 1\n",
    "a:\n  - b\n  -\n  - c:\n      d: e\n",
    "k:    \n  x: y\n",
    "seq:\n- a\n-\nnext: 1\n",
];

/// Texts outside it (or not YAML at all): the quick scanner must leave them to the full parser.
const LEFT: &[&str] = &[
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: \"esc\\n\"\n",
    "a: 'it''s'\n",
    "a: multi\n  line\n",
    "a: [1,\n  2]\n",
    "a:\tb\n",
    "a: b\r\n",
    "a: caf\u{e9}\n",
    "? complex\n: key\n",
    "a: 1\n- b\n",
    "a: b: c\n",
    "---\n",
    "- - nested\n",
    "a: [1, ]\n",
    "a: [b: c]\n",
    "a: {b}\n",
    "%YAML 1.2\n---\na: 1\n",
    "a: 1\n...\n",
    "<<: *base\n",
    "a:\n  b: 1\n c: 2\n",
    "- a\nb: 1\n",
    "  a: 1\nb: 2\n",
    "a:\n  value\n",
    "a: 'x' y\n",
    "a: [a, b] c\n",
    "a : 1\n",
    "a: -\n",
    "a: {b: c}: d\n",
    "[a, b]\n",
    "--- \na: 1\n",
    "a: [b #c]\n",
];

#[test]
fn texts_of_the_subset_read_as_the_full_parser_reads_them() {
    for text in READ {
        assert!(agree(text), "quick left {text:?} to the full parser");
    }
}

#[test]
fn texts_outside_the_subset_are_left_to_the_full_parser() {
    for text in LEFT {
        assert!(quick(text).is_none(), "quick read {text:?}");
    }
}

#[test]
fn long_values_are_read_and_keys_past_the_full_parsers_lookahead_left_to_it() {
    let long = "x".repeat(2_000);
    assert!(agree(&format!("a: {long}\nb: [{long}]\n")));
    assert!(quick(&format!("{long}: 1\n")).is_none());
}

#[test]
fn the_projects_specs_and_generated_ones_read_alike() {
    for text in [
        include_str!("../../../../specs/local-demo.yaml"),
        include_str!("../../../../specs/multi-host.yaml"),
        crate::commands::DEMO_SPEC,
    ] {
        assert!(agree(text));
    }
    let fleet = crate::resolve::load_str("demo.yaml", crate::commands::DEMO_SPEC).unwrap();
    let rendered = crate::render::spec_yaml(&fleet).unwrap();
    assert!(agree(&rendered), "{rendered}");
    let model = crate::resolve::render::yaml(&fleet).unwrap();
    agree(&model);
}

/// A small deterministic generator (xorshift), so that a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_texts_read_alike_or_are_left_to_the_full_parser() {
    // Characters that matter to YAML's rules, and some that do not.
    const ALPHABET: &[u8] = b" \n-:#[]{},'\"&*!|>?.~ax1\\";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut read = 0;
    let cases = 30_000;
    for case in 0..cases {
        let mut text = READ[case % READ.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(text.len() + 1);
            let c = ALPHABET[rng.below(ALPHABET.len())];
            match rng.below(3) {
                0 => text.insert(at, c),
                1 if at < text.len() => {
                    text.remove(at);
                }
                _ if at < text.len() => text[at] = c,
                _ => text.push(c),
            }
        }
        let text = String::from_utf8(text).expect("ASCII");
        if agree(&text) {
            read += 1;
        }
    }
    // Most mutations still leave YAML of the subset, so the comparison is not vacuous.
    assert!(
        read > cases / 4,
        "only {read} of {cases} mutated texts read"
    );
}

#[path = "../../../examples/gen_spec.rs"]
#[allow(dead_code)]
mod gen_spec;

#[test]
fn generated_specs_of_every_shape_read_alike() {
    use gen_spec::{Shape, generate_shape};
    for shape in [Shape::Pinned, Shape::Inventory, Shape::Sets] {
        for local in [false, true] {
            let text = generate_shape(20, 300, local, shape);
            assert!(agree(&text), "{shape:?} local {local}");
        }
    }
}
