//! Problems found in a spec, each tied to a place in a file, and their rendering in the form
//! editors and CI logs understand: `file:line:col: error: message`, the source line with a caret,
//! and a hint saying what would be valid.

use std::fmt::Write as _;

use super::node::Pos;
use super::source::Sources;

/// One problem in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is; `None` for problems of the load as a whole (no file given, ...).
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub hint: Option<String>,
    /// Other places involved (the first definition of a duplicate, ...).
    pub related: Vec<(Pos, String)>,
}

impl Diagnostic {
    /// A problem at a position.
    pub fn at(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            pos: Some(pos),
            message: message.into(),
            hint: None,
            related: Vec::new(),
        }
    }

    /// A problem with no position.
    pub fn general(message: impl Into<String>) -> Self {
        Diagnostic {
            pos: None,
            message: message.into(),
            hint: None,
            related: Vec::new(),
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a related place.
    pub fn related(mut self, pos: Pos, note: impl Into<String>) -> Self {
        self.related.push((pos, note.into()));
        self
    }

    /// Renders the diagnostic with its source line.
    pub fn render(&self, sources: &Sources) -> String {
        self.render_as("error", sources)
    }

    /// Renders it as a warning: the spec is valid, but this is worth changing.
    pub fn render_warning(&self, sources: &Sources) -> String {
        self.render_as("warning", sources)
    }

    fn render_as(&self, label: &str, sources: &Sources) -> String {
        let mut out = String::new();
        match self.pos {
            Some(pos) => {
                let _ = writeln!(out, "{}: {label}: {}", sources.locate(pos), self.message);
                quote(&mut out, sources, pos);
            }
            None => {
                let _ = writeln!(out, "{label}: {}", self.message);
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        for (pos, note) in &self.related {
            let _ = writeln!(out, "  = note: {note} at {}", sources.locate(*pos));
        }
        out
    }
}

/// Writes the source line of `pos` with a caret under the token that starts there.
fn quote(out: &mut String, sources: &Sources, pos: Pos) {
    let Some(line) = sources.line_text(pos) else {
        return;
    };
    let number = pos.line.to_string();
    let gutter = " ".repeat(number.len());
    let start = pos.column.saturating_sub(1) as usize;
    let rest: String = line.chars().skip(start).collect();
    let width = token_width(&rest).max(1);
    let _ = writeln!(out, "{gutter} |");
    let _ = writeln!(out, "{number} | {line}");
    let _ = writeln!(
        out,
        "{gutter} | {}{}",
        " ".repeat(line.chars().take(start).count()),
        "^".repeat(width)
    );
}

/// Width of the YAML token at the start of `text`: a quoted string, or a plain scalar up to
/// a `: `, a flow indicator or the end of the line.
fn token_width(text: &str) -> usize {
    let mut chars = text.char_indices().peekable();
    match chars.peek() {
        Some((_, q @ ('"' | '\''))) => {
            let q = *q;
            let mut n = 1;
            let mut escaped = false;
            for c in text.chars().skip(1) {
                n += 1;
                if c == q && !escaped {
                    return n;
                }
                escaped = c == '\\' && !escaped && q == '"';
            }
            n
        }
        _ => {
            let mut n = 0;
            let mut prev_colon = false;
            for c in text.chars() {
                if prev_colon && c == ' ' {
                    return n - 1;
                }
                if matches!(c, ',' | ']' | '}' | '#') && n > 0 {
                    break;
                }
                prev_colon = c == ':';
                n += 1;
            }
            text.chars()
                .take(n)
                .collect::<String>()
                .trim_end()
                .chars()
                .count()
        }
    }
}

/// Every problem of one load, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records something valid but worth changing (it does not fail the load).
    pub fn warn(&mut self, diagnostic: Diagnostic) {
        self.warnings.push(diagnostic);
    }

    /// The warnings, in the order recorded.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Records a problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Records every problem and warning of `other`, after these.
    pub fn append(&mut self, mut other: Diagnostics) {
        self.items.append(&mut other.items);
        self.warnings.append(&mut other.warnings);
    }

    /// Records a problem at a position.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Diagnostic::at(pos, message));
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The problems, sorted by place (problems without a place first).
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| d.pos);
        self.items
    }

    /// The problems as recorded.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_caret_and_hint() {
        let mut sources = Sources::default();
        let file = sources.add("fleet.yaml", "containers:\n  - memroy: 1G\n");
        let d = Diagnostic::at(
            Pos {
                file,
                line: 2,
                column: 5,
            },
            "unknown field \"memroy\"",
        )
        .hint("did you mean \"memory\"?");
        assert_eq!(
            d.render(&sources),
            "fleet.yaml:2:5: error: unknown field \"memroy\"\n  |\n2 |   - memroy: 1G\n  |     ^^^^^^\n  = hint: did you mean \"memory\"?\n"
        );
    }

    #[test]
    fn token_widths() {
        assert_eq!(token_width("memroy: 1G"), 6);
        assert_eq!(token_width("\"a b\": x"), 5);
        assert_eq!(token_width("512Xi"), 5);
        assert_eq!(token_width("web, db]"), 3);
        assert_eq!(token_width("http://x"), 8);
    }
}
