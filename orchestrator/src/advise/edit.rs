//! Edits of the user's spec text at the positions the loader recorded, and the unified diff
//! that shows them. The file is never re-serialized: only the value's characters change, so
//! comments, quoting, order and layout stay the user's.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One value to replace: on 1-based `line`, starting at 1-based character `column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Line of the value.
    pub line: u32,
    /// Column where the value starts.
    pub column: u32,
    /// The new value's text.
    pub text: String,
}

/// Lines of context around each change, as `diff -u` shows.
const CONTEXT: usize = 3;

/// The end (exclusive, in chars) of the YAML scalar starting at `start` of `line`: a quoted
/// scalar ends after its closing quote, a plain one before a comment, a flow separator or the
/// end of the line.
fn scalar_end(line: &[char], start: usize) -> usize {
    match line.get(start) {
        Some(&q @ ('"' | '\'')) => {
            let mut i = start + 1;
            while i < line.len() {
                if line[i] == '\\' && q == '"' {
                    i += 2;
                    continue;
                }
                if line[i] == q {
                    return i + 1;
                }
                i += 1;
            }
            line.len()
        }
        _ => {
            let mut end = start;
            while end < line.len() {
                let c = line[end];
                if matches!(c, ',' | '}' | ']')
                    || (c == '#' && end > start && line[end - 1].is_whitespace())
                {
                    break;
                }
                end += 1;
            }
            while end > start && line[end - 1].is_whitespace() {
                end -= 1;
            }
            end
        }
    }
}

/// `text` with `edits` made. An edit outside the text is left out (the caller located it in
/// this very text, so that does not happen).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let by_line: BTreeMap<u32, Vec<&Edit>> = edits.iter().fold(BTreeMap::new(), |mut m, e| {
        m.entry(e.line).or_insert_with(Vec::new).push(e);
        m
    });
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let Some(list) = by_line.get(&(i as u32 + 1)) else {
            out.push_str(line);
            continue;
        };
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut chars: Vec<char> = body.chars().collect();
        let mut list = list.clone();
        // Right to left, so earlier columns stay valid.
        list.sort_by_key(|e| std::cmp::Reverse(e.column));
        for e in list {
            let start = (e.column as usize).saturating_sub(1);
            if start > chars.len() {
                continue;
            }
            let end = scalar_end(&chars, start);
            chars.splice(start..end, e.text.chars());
        }
        out.extend(chars);
        out.push_str(newline);
    }
    out
}

/// A unified diff of `old` to `new` (which differ only in lines replaced one for one, as
/// [`apply`] makes them), labelled `a/<name>` and `b/<name>`; empty when they are equal.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let changed: Vec<usize> = (0..a.len().max(b.len()))
        .filter(|&i| a.get(i) != b.get(i))
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    // Changes closer than twice the context share a hunk.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        match hunks.last_mut() {
            Some((_, last)) if i <= *last + 2 * CONTEXT + 1 => *last = i,
            _ => hunks.push((i, i)),
        }
    }
    for (first, last) in hunks {
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(a.len());
        let _ = writeln!(
            out,
            "@@ -{},{} +{},{} @@",
            start + 1,
            end - start,
            start + 1,
            end - start
        );
        for (i, line) in a.iter().enumerate().take(end).skip(start) {
            if b.get(i) == Some(line) {
                let _ = writeln!(out, " {line}");
            } else {
                let _ = writeln!(out, "-{line}");
                if let Some(new) = b.get(i) {
                    let _ = writeln!(out, "+{new}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(line: u32, column: u32, text: &str) -> Edit {
        Edit {
            line,
            column,
            text: text.into(),
        }
    }

    #[test]
    fn only_the_value_changes_comments_and_layout_stay() {
        let text = "a:\n  memory: 32Mi   # tight\n  flow: {memory: \"1Gi\", cpu: 2}\n";
        let new = apply(text, &[edit(2, 11, "48Mi"), edit(3, 18, "768Mi")]);
        assert_eq!(
            new,
            "a:\n  memory: 48Mi   # tight\n  flow: {memory: 768Mi, cpu: 2}\n"
        );
    }

    #[test]
    fn the_diff_has_context_and_one_hunk_per_region() {
        let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l5\n", "L5\n").replace("l18\n", "L18\n");
        let diff = unified("fleet.yaml", &old, &new);
        assert!(
            diff.starts_with("--- a/fleet.yaml\n+++ b/fleet.yaml\n@@ -2,7 +2,7 @@\n l2\n"),
            "{diff}"
        );
        assert!(diff.contains("-l5\n+L5\n"), "{diff}");
        assert!(diff.contains("@@ -15,6 +15,6 @@\n"), "{diff}");
        assert_eq!(unified("x", &old, &old), "");
    }
}
