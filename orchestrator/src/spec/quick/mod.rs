//! A scanner for the plain subset of YAML that specs are mostly written in, and generators
//! always: block mappings and sequences indented by spaces, keys and values on one line, plain
//! scalars, quoted scalars without escapes, one-line flow collections, comments, `---`. It yields
//! the same [`Event`]s at the same positions as the full parser (granit-parser, serde-saphyr's),
//! at a fraction of its cost: the full parser is about half of a big spec's load, and this
//! scanner reads a 30 MB file in a tenth of its time.
//!
//! Whatever it does not know for certain it leaves to the full parser: at the first construct
//! outside the subset (anchors, aliases, tags, block scalars, escapes, multi-line scalars or
//! flows, tabs, non-ASCII text, anything malformed) it stops with [`Unsupported`], and the file
//! is read again by the full parser from its start. So it never reports a YAML error of its own,
//! and the tests hold its events to the full parser's on every input they give it.

use std::borrow::Cow;

use super::events::{Event, Kind};
use super::node::Pos;

/// The text leaves the subset this scanner reads; the full parser must read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// Longest key the full parser accepts (its simple-key lookahead), in characters.
const MAX_KEY: usize = 1_024;

/// An open block collection: a mapping's keys or a sequence's dashes start at `indent`.
#[derive(Debug, Clone, Copy)]
struct Frame {
    map: bool,
    indent: usize,
    /// A sequence written at its mapping key's own indentation (`key:\n- item`).
    indentless: bool,
}

/// Scans `text` (file `file` of its load), handing each event to `sink`, which returns false to
/// stop. `Err(Unsupported)` means the events handed so far are to be forgotten: the text is
/// outside the subset.
pub fn scan<'t>(
    text: &'t str,
    file: u32,
    sink: &mut dyn FnMut(Event<'t>) -> bool,
) -> Result<(), Unsupported> {
    let mut s = Scanner {
        file,
        sink,
        stack: Vec::new(),
        pending: None,
        in_document: false,
        line_events: Vec::new(),
        stopped: false,
    };
    let mut line_no = 0u32;
    let mut start = 0;
    while start < text.len() && !s.stopped {
        line_no += 1;
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        s.line(line_no, &text[start..end])?;
        s.flush();
        start = end + 1;
    }
    if !s.stopped {
        s.end_document(line_no + 1)?;
        s.flush();
    }
    Ok(())
}

struct Scanner<'t, 's> {
    file: u32,
    sink: &'s mut dyn FnMut(Event<'t>) -> bool,
    stack: Vec<Frame>,
    /// A key or a dash whose value is still to come, on the lines below: where an empty value
    /// would be placed.
    pending: Option<Pos>,
    in_document: bool,
    /// The events of the line being read, handed on once the whole line is known to be in the
    /// subset: a line left to the full parser yields none of its events from here.
    line_events: Vec<Event<'t>>,
    /// The sink asked to stop.
    stopped: bool,
}

impl<'t> Scanner<'t, '_> {
    fn emit(&mut self, pos: Pos, kind: Kind<'t>) {
        self.line_events.push(Event { pos, kind });
    }

    /// Hands the line's events on.
    fn flush(&mut self) {
        for event in self.line_events.drain(..) {
            if !self.stopped && !(self.sink)(event) {
                self.stopped = true;
            }
        }
    }

    fn pos(&self, line: u32, column: usize) -> Pos {
        Pos {
            file: self.file,
            line,
            column: column as u32 + 1,
        }
    }

    /// One line of the file, without its line break.
    fn line(&mut self, no: u32, line: &'t str) -> Result<(), Unsupported> {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let rest = &line[indent..];
        // Printable ASCII only: no tabs, carriage returns or other characters whose rules
        // (and columns, counted in characters) this scanner does not keep.
        if !bytes.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            return Err(Unsupported);
        }
        if rest.is_empty() || rest.starts_with('#') {
            return Ok(());
        }
        if indent == 0 && (rest.starts_with("---") || rest.starts_with("...")) {
            if rest != "---" {
                return Err(Unsupported);
            }
            if self.in_document {
                self.end_document(no)?;
            }
            self.emit(self.pos(no, 0), Kind::DocumentStart);
            self.in_document = true;
            return Ok(());
        }
        let dash = is_dash(rest);
        if self.stack.is_empty() {
            if self.pending.is_some() {
                return Err(Unsupported);
            }
            if !self.in_document {
                self.emit(self.pos(no, indent), Kind::DocumentStart);
                self.in_document = true;
            }
            return self.open_line(no, indent, rest, dash, false);
        }
        if let Some(empty_at) = self.pending {
            let top = *self.stack.last().expect("a pending value has a parent");
            if indent > top.indent {
                self.pending = None;
                return self.open_line(no, indent, rest, dash, false);
            }
            if top.map && indent == top.indent && dash {
                self.pending = None;
                return self.open_line(no, indent, rest, dash, true);
            }
            self.pending = None;
            self.emit(empty_at, empty_scalar());
        }
        while let Some(top) = self.stack.last().copied() {
            if top.indent > indent || top.indentless && top.indent == indent && !dash {
                self.stack.pop();
                self.emit(self.pos(no, indent), Kind::End);
            } else {
                break;
            }
        }
        let Some(top) = self.stack.last().copied() else {
            return Err(Unsupported);
        };
        if top.indent != indent || top.map == dash {
            return Err(Unsupported);
        }
        if dash {
            self.item(no, indent, rest)
        } else {
            self.entry(no, indent, rest)
        }
    }

    /// A line that opens a block collection at `indent`: a sequence when it starts with a dash,
    /// else a mapping.
    fn open_line(
        &mut self,
        no: u32,
        indent: usize,
        rest: &'t str,
        dash: bool,
        indentless: bool,
    ) -> Result<(), Unsupported> {
        self.stack.push(Frame {
            map: !dash,
            indent,
            indentless,
        });
        if dash {
            // The full parser places an indentless sequence where its first item starts, past
            // the dash and its spaces; any other at its first dash.
            let at = if indentless {
                indent + 1 + rest[1..].bytes().take_while(|&b| b == b' ').count()
            } else {
                indent
            };
            self.emit(self.pos(no, at), Kind::SequenceStart(0));
            self.item(no, indent, rest)
        } else {
            self.emit(self.pos(no, indent), Kind::MappingStart(0));
            self.entry(no, indent, rest)
        }
    }

    /// A sequence item, `rest` starting with its dash at `column`.
    fn item(&mut self, no: u32, column: usize, rest: &'t str) -> Result<(), Unsupported> {
        let after = &rest[1..];
        let spaces = after.bytes().take_while(|&b| b == b' ').count();
        let value = &after[spaces..];
        let at = column + 1 + spaces;
        if value.starts_with('#') {
            // The full parser places such an empty item by rules of its own.
            return Err(Unsupported);
        }
        if value.is_empty() {
            // An empty item is placed past its dash and spaces, as the full parser does.
            self.pending = Some(self.pos(no, at));
            return Ok(());
        }
        if is_dash(value) {
            return Err(Unsupported);
        }
        if key_of(value).is_some() {
            self.stack.push(Frame {
                map: true,
                indent: at,
                indentless: false,
            });
            self.emit(self.pos(no, at), Kind::MappingStart(0));
            return self.entry(no, at, value);
        }
        self.inline_value(no, at, value)
    }

    /// A mapping entry, `rest` starting with its key at `column`.
    fn entry(&mut self, no: u32, column: usize, rest: &'t str) -> Result<(), Unsupported> {
        let (key, after_colon) = key_of(rest).ok_or(Unsupported)?;
        self.emit(self.pos(no, column), key);
        let value = &rest[after_colon..];
        let spaces = value.bytes().take_while(|&b| b == b' ').count();
        let value = &value[spaces..];
        let at = column + after_colon + spaces;
        if value.is_empty() || value.starts_with('#') {
            // An empty value is placed at its key's colon, as the full parser does.
            self.pending = Some(self.pos(no, column + after_colon - 1));
            return Ok(());
        }
        if is_dash(value) {
            return Err(Unsupported);
        }
        self.inline_value(no, at, value)
    }

    /// A value written on its key's or dash's line, at `column`: a scalar or a flow collection,
    /// then nothing but a comment.
    fn inline_value(&mut self, no: u32, column: usize, value: &'t str) -> Result<(), Unsupported> {
        let used = match value.as_bytes()[0] {
            b'[' | b'{' => self.flow(no, column, value, 0, 1)?,
            _ => {
                let (kind, used) = scalar(value, false).ok_or(Unsupported)?;
                self.emit(self.pos(no, column), kind);
                used
            }
        };
        let tail = &value[used..];
        let trimmed = tail.trim_start_matches(' ');
        // Nothing more, or a comment after a space.
        let comment = trimmed.starts_with('#') && trimmed.len() < tail.len();
        match trimmed.is_empty() || comment {
            true => Ok(()),
            false => Err(Unsupported),
        }
    }

    /// A flow collection that opens and closes on this line, at byte `i` of `text` (which
    /// starts at `column`), nested `depth` deep; returns where it ends.
    fn flow(
        &mut self,
        no: u32,
        column: usize,
        text: &'t str,
        mut i: usize,
        depth: usize,
    ) -> Result<usize, Unsupported> {
        let bytes = text.as_bytes();
        let map = bytes[i] == b'{';
        let close = if map { b'}' } else { b']' };
        // Deeper than the builder allows: the full parser's events reach its refusal.
        if depth > super::build::MAX_DEPTH {
            return Err(Unsupported);
        }
        let start = if map {
            Kind::MappingStart(0)
        } else {
            Kind::SequenceStart(0)
        };
        self.emit(self.pos(no, column + i), start);
        i = skip_spaces(bytes, i + 1);
        if bytes.get(i) == Some(&close) {
            self.emit(self.pos(no, column + i), Kind::End);
            return Ok(i + 1);
        }
        loop {
            if map {
                // A key (a scalar), a colon and a space, then its value.
                let (key, used) = scalar(&text[i..], true).ok_or(Unsupported)?;
                self.emit(self.pos(no, column + i), key);
                i += used;
                if !text[i..].starts_with(": ") {
                    return Err(Unsupported);
                }
                i = skip_spaces(bytes, i + 1);
            }
            i = self.flow_node(no, column, text, i, depth)?;
            i = skip_spaces(bytes, i);
            match bytes.get(i) {
                Some(&b) if b == close => {
                    self.emit(self.pos(no, column + i), Kind::End);
                    return Ok(i + 1);
                }
                // A comma before the close (`[a, ]`) or another comma is left to the full
                // parser, as is anything else (`[a: b]`, a second scalar).
                Some(b',') => {
                    i = skip_spaces(bytes, i + 1);
                    if matches!(bytes.get(i), None | Some(b']' | b'}' | b',')) {
                        return Err(Unsupported);
                    }
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// A node inside a flow collection at byte `i`: a scalar or a nested collection.
    fn flow_node(
        &mut self,
        no: u32,
        column: usize,
        text: &'t str,
        i: usize,
        depth: usize,
    ) -> Result<usize, Unsupported> {
        match text.as_bytes().get(i) {
            Some(b'[' | b'{') => self.flow(no, column, text, i, depth + 1),
            Some(_) => {
                let (kind, used) = scalar(&text[i..], true).ok_or(Unsupported)?;
                self.emit(self.pos(no, column + i), kind);
                Ok(i + used)
            }
            None => Err(Unsupported),
        }
    }

    /// Closes the document: an empty value still pending, then every open collection.
    fn end_document(&mut self, no: u32) -> Result<(), Unsupported> {
        if let Some(empty_at) = self.pending.take() {
            self.emit(empty_at, empty_scalar());
        }
        if self.in_document && self.stack.is_empty() {
            // An empty document: the full parser gives it an empty scalar; leave it to it.
            return Err(Unsupported);
        }
        while self.stack.pop().is_some() {
            self.emit(self.pos(no, 0), Kind::End);
        }
        self.in_document = false;
        Ok(())
    }
}

/// An empty value, as the full parser writes it.
fn empty_scalar<'t>() -> Kind<'t> {
    Kind::Scalar {
        text: Cow::Borrowed("~"),
        plain: true,
        anchor: 0,
    }
}

fn skip_spaces(bytes: &[u8], i: usize) -> usize {
    i + bytes[i.min(bytes.len())..]
        .iter()
        .take_while(|&&b| b == b' ')
        .count()
}

/// Whether a line's content (after its indentation) starts with a block sequence's dash.
fn is_dash(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// A mapping key at the start of `text`: the key's scalar and where its value starts (after
/// the colon), if `text` starts with a key.
fn key_of(text: &str) -> Option<(Kind<'_>, usize)> {
    let (kind, used) = scalar(text, false)?;
    if used > MAX_KEY {
        return None;
    }
    let after = &text[used..];
    if after == ":" || after.starts_with(": ") {
        return Some((kind, used + 1));
    }
    None
}

/// The scalar at the start of `text` and the bytes it takes; `None` when it is not one this
/// scanner reads (an indicator first, an escape, an unclosed quote). `flow` inside `[...]` or
/// `{...}`, where `,[]{}` end a plain scalar.
fn scalar(text: &str, flow: bool) -> Option<(Kind<'_>, usize)> {
    let bytes = text.as_bytes();
    let quoted = |quote: u8| {
        let close = bytes[1..].iter().position(|&b| b == quote)? + 1;
        let inner = &text[1..close];
        let escaped = quote == b'"' && inner.contains('\\') || bytes.get(close + 1) == Some(&quote);
        if escaped {
            return None;
        }
        Some((
            Kind::Scalar {
                text: Cow::Borrowed(inner),
                plain: false,
                anchor: 0,
            },
            close + 1,
        ))
    };
    match *bytes.first()? {
        b'"' => return quoted(b'"'),
        b'\'' => return quoted(b'\''),
        b'-' if bytes
            .get(1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.') => {}
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
        _ => {}
    }
    let ends = |i: usize| -> bool {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match b {
            b':' => next
                .is_none_or(|n| n == b' ' || flow && matches!(n, b',' | b'[' | b']' | b'{' | b'}')),
            b',' | b'[' | b']' | b'{' | b'}' => flow,
            b'#' => bytes[i - 1] == b' ',
            _ => false,
        }
    };
    let mut end = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        if ends(i) {
            break;
        }
        i += 1;
        end = i;
    }
    if end == 0 {
        return None;
    }
    Some((
        Kind::Scalar {
            text: Cow::Borrowed(&text[..end]),
            plain: true,
            anchor: 0,
        },
        end,
    ))
}

#[cfg(test)]
mod tests;
