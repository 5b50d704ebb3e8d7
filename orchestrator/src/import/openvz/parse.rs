//! The shell-variable syntax of vzctl's config files (`/etc/vz/conf/CTID.conf`, `vz.conf`):
//! `KEY="value"` lines, as a POSIX shell reads them, because the init scripts of OpenVZ source
//! these files and operators edit them by hand.
//!
//! Understood: `#` comments (at the start of a word), blank lines, an optional `export`, values
//! unquoted, in `'single'` quotes (literal) or `"double"` quotes (`\"`, `\\`, `\$`, `` \` `` and
//! a backslash-newline continuation), backslash escapes and continuations outside quotes, a
//! quoted value spanning lines, several assignments on one line (`A=1 B=2`, `A=1; B=2`), and
//! `$NAME` / `${NAME}` expanded from earlier assignments (and `VEID`, the container's id), as
//! the shell would. Command substitution is not run: it is kept as written, with a warning.
//!
//! A line that is not an assignment, or a quote left open (a half-written file), is an error
//! at its file:line:column; the parser then goes on at the next line, so the rest is imported.

use std::collections::HashMap;

use crate::spec::node::Pos;
use crate::spec::{Diagnostic, Diagnostics};

/// One `KEY=value` of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable's name (`PHYSPAGES`).
    pub key: String,
    /// Where the name starts.
    pub pos: Pos,
    /// The value after quote removal and expansion.
    pub value: String,
    /// Where the value starts (its opening quote, if quoted).
    pub value_pos: Pos,
}

/// A cursor over the text that knows its line and column.
#[derive(Clone)]
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    file: u32,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Skips to just after the end of the current line.
    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    /// Skips the rest of line `line` if the cursor is still on it.
    fn resume_after(&mut self, line: u32) {
        if self.line == line {
            self.skip_line();
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }
}

/// Why a value could not be read.
struct Broken(Diagnostic);

/// Parses `text` (file number `file` in the caller's sources). `vars` holds what `$NAME`
/// expands to; each assignment is added to it as the shell would. Problems go to `d`.
pub fn parse(
    text: &str,
    file: u32,
    vars: &mut HashMap<String, String>,
    d: &mut Diagnostics,
) -> Vec<Assignment> {
    let mut out = Vec::new();
    let mut c = Cursor {
        chars: text.chars().peekable(),
        file,
        line: 1,
        column: 1,
    };
    loop {
        c.skip_blanks();
        match c.peek() {
            None => break,
            Some('\n' | ';') => {
                c.bump();
                continue;
            }
            Some('#') => {
                c.skip_line();
                continue;
            }
            Some(_) => {}
        }
        let start = c.pos();
        let key = word(&mut c);
        if key == "export" && matches!(c.peek(), Some(' ' | '\t')) {
            continue;
        }
        if key.is_empty() || c.peek() != Some('=') || !is_name(&key) {
            let found = if key.is_empty() {
                c.peek()
                    .map_or("the end of the file".into(), |ch| format!("{ch:?}"))
            } else {
                format!("\"{key}\"")
            };
            d.push(
                Diagnostic::at(start, format!("expected NAME=VALUE, found {found}")).hint(
                    "each line of a vzctl config is a shell assignment such as \
                     PHYSPAGES=\"0:262144\" or a # comment; this line is skipped",
                ),
            );
            c.resume_after(start.line);
            continue;
        }
        c.bump();
        let value_pos = c.pos();
        match value(&mut c, vars, d) {
            Ok(value) => {
                c.skip_blanks();
                // `A=1 B=2` is two assignments: the word after a blank is another NAME=.
                let another = {
                    let mut look = c.clone();
                    let w = word(&mut look);
                    is_name(&w) && look.peek() == Some('=')
                };
                // The value ends the statement, or another assignment follows it.
                if another || matches!(c.peek(), None | Some('\n' | ';' | '#')) {
                    vars.insert(key.clone(), value.clone());
                    out.push(Assignment {
                        key,
                        pos: start,
                        value,
                        value_pos,
                    });
                } else {
                    let at = c.pos();
                    d.push(
                        Diagnostic::at(at, format!("unquoted space in the value of {key}")).hint(
                            format!(
                                "a shell reads this as a command run with {key} set, not as an \
                             assignment; quote the whole value: {key}=\"{value} ...\""
                            ),
                        ),
                    );
                    c.resume_after(at.line);
                }
            }
            Err(Broken(diag)) => {
                let line = diag.pos.map_or(c.line, |p| p.line);
                d.push(diag);
                // Go on after the line the broken value started on: a quote left open swallows
                // the rest of the file in a shell, but the lines after it are usually fine.
                c = Cursor {
                    chars: text.chars().peekable(),
                    file,
                    line: 1,
                    column: 1,
                };
                while c.line <= line && c.peek().is_some() {
                    c.bump();
                }
            }
        }
    }
    out
}

/// A shell variable name: a letter or `_`, then letters, digits and `_`.
pub fn is_name(word: &str) -> bool {
    let mut chars = word.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The name part of an assignment: up to `=` or anything a name cannot hold.
fn word(c: &mut Cursor) -> String {
    let mut w = String::new();
    while let Some(ch) = c.peek() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            w.push(ch);
            c.bump();
        } else {
            break;
        }
    }
    w
}

/// One value: unquoted, quoted and escaped parts joined, until an unquoted blank, newline,
/// `;` or the end.
fn value(
    c: &mut Cursor,
    vars: &HashMap<String, String>,
    d: &mut Diagnostics,
) -> Result<String, Broken> {
    let mut out = String::new();
    while let Some(ch) = c.peek() {
        match ch {
            ' ' | '\t' | '\r' | '\n' | ';' => break,
            '\'' => {
                let open = c.pos();
                c.bump();
                loop {
                    match c.bump() {
                        Some('\'') => break,
                        Some(ch) => out.push(ch),
                        None => return Err(unterminated(open, '\'')),
                    }
                }
            }
            '"' => {
                let open = c.pos();
                c.bump();
                loop {
                    match c.peek() {
                        None => return Err(unterminated(open, '"')),
                        Some('"') => {
                            c.bump();
                            break;
                        }
                        Some('\\') => {
                            c.bump();
                            match c.peek() {
                                Some('\n') => {
                                    c.bump();
                                }
                                Some(e @ ('"' | '\\' | '$' | '`')) => {
                                    out.push(e);
                                    c.bump();
                                }
                                _ => out.push('\\'),
                            }
                        }
                        Some('$') => expand(c, vars, &mut out, d),
                        Some('`') => substitution(c, &mut out, d),
                        Some(ch) => {
                            out.push(ch);
                            c.bump();
                        }
                    }
                }
            }
            '\\' => {
                c.bump();
                match c.bump() {
                    Some('\n') | None => {}
                    Some(e) => out.push(e),
                }
            }
            '$' => expand(c, vars, &mut out, d),
            '`' => substitution(c, &mut out, d),
            _ => {
                out.push(ch);
                c.bump();
            }
        }
    }
    Ok(out)
}

fn unterminated(open: Pos, quote: char) -> Broken {
    Broken(
        Diagnostic::at(open, format!("this {quote} quote is never closed")).hint(
            "the file may be half-written (cut off while it was saved); close the quote at the \
             end of the value. The value is skipped and reading goes on at the next line",
        ),
    )
}

/// `$NAME`, `${NAME}` or a lone `$`, at the cursor.
fn expand(c: &mut Cursor, vars: &HashMap<String, String>, out: &mut String, d: &mut Diagnostics) {
    let at = c.pos();
    c.bump();
    let braced = c.peek() == Some('{');
    if braced {
        c.bump();
    }
    if c.peek() == Some('(') {
        out.push('$');
        substitution_warning(at, d);
        return;
    }
    let name = word(c);
    if braced {
        if c.peek() == Some('}') {
            c.bump();
        } else {
            // `${NAME:-default}` and the like: kept as written.
            out.push_str("${");
            out.push_str(&name);
            return;
        }
    }
    if name.is_empty() || !is_name(&name) {
        out.push('$');
        out.push_str(&name);
        return;
    }
    match vars.get(&name) {
        Some(v) => out.push_str(v),
        None => d.warn(
            Diagnostic::at(
                at,
                format!("${name} is not set here; a shell expands it to nothing"),
            )
            .hint("set it earlier in the file, or write the value out"),
        ),
    }
}

/// A backquote: kept as written (never run).
fn substitution(c: &mut Cursor, out: &mut String, d: &mut Diagnostics) {
    substitution_warning(c.pos(), d);
    out.push('`');
    c.bump();
}

fn substitution_warning(at: Pos, d: &mut Diagnostics) {
    d.warn(
        Diagnostic::at(at, "command substitution is not run by the import")
            .hint("the text is kept as written; put the value itself in the config"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<(String, String)>, Diagnostics) {
        let mut d = Diagnostics::default();
        let mut vars = HashMap::from([("VEID".to_string(), "101".to_string())]);
        let got = parse(text, 0, &mut vars, &mut d)
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect();
        (got, d)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn vzctl_lines_comments_and_quotes() {
        let (got, d) = run(
            "# Copyright comment\n\nONBOOT=\"yes\"\nPHYSPAGES=\"0:256M\"   # trailing\n\
             NAME='web 1'\nexport CPUUNITS=1000\nA=1 B=2; C=x\\ y\nDESCRIPTION=\"say \\\"hi\\\" \\$5\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            got,
            pairs(&[
                ("ONBOOT", "yes"),
                ("PHYSPAGES", "0:256M"),
                ("NAME", "web 1"),
                ("CPUUNITS", "1000"),
                ("A", "1"),
                ("B", "2"),
                ("C", "x y"),
                ("DESCRIPTION", "say \"hi\" $5"),
            ])
        );
    }

    #[test]
    fn continuations_and_values_over_lines() {
        let (got, d) = run("IP_ADDRESS=\"10.0.0.1 \\\n10.0.0.2\"\nX=a\\\nb\nY=\"one\ntwo\"\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            got,
            pairs(&[
                ("IP_ADDRESS", "10.0.0.1 10.0.0.2"),
                ("X", "ab"),
                ("Y", "one\ntwo")
            ])
        );
    }

    #[test]
    fn variables_expand_from_earlier_lines_and_veid() {
        let (got, d) = run("VE_PRIVATE=\"/vz/private/$VEID\"\nP=${VE_PRIVATE}/x\nQ=$NOPE\n");
        assert_eq!(
            got,
            pairs(&[
                ("VE_PRIVATE", "/vz/private/101"),
                ("P", "/vz/private/101/x"),
                ("Q", "")
            ])
        );
        assert_eq!(d.warnings().len(), 1);
        assert!(d.is_empty());
    }

    #[test]
    fn broken_lines_are_located_and_the_rest_is_read() {
        let (got, d) = run("ONBOOT=yes\nthis is not an assignment\nNAME=a b\nCPUUNITS=\"1000\n");
        assert_eq!(got, pairs(&[("ONBOOT", "yes")]));
        let errors = d.sorted();
        let at: Vec<(u32, u32)> = errors
            .iter()
            .map(|e| (e.pos.unwrap().line, e.pos.unwrap().column))
            .collect();
        assert_eq!(at, [(2, 1), (3, 8), (4, 10)], "{errors:?}");
        assert!(errors[2].message.contains("never closed"));
    }

    #[test]
    fn an_open_quote_midway_does_not_swallow_the_file() {
        let (got, d) = run("A=\"x\nB=2\nC=3\n");
        // A shell would read A as "x\nB=2\nC=3\n" and fail at the end; the import says where the
        // quote opened and keeps the lines after it.
        assert_eq!(got, pairs(&[("B", "2"), ("C", "3")]));
        assert_eq!(d.sorted().len(), 1);
    }
}
