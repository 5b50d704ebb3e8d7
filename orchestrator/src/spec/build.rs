//! serde-saphyr's parser events to positioned [`Node`] trees, under budgets (nesting depth,
//! documents, values written, alias expansion relative to what is written), with YAML's merge
//! keys applied and duplicate keys refused; the items of a document's top-level lists can be
//! handed to the caller as each completes ([`Items`]), so a big file's tree is never held whole.

use std::collections::HashMap;

pub use super::events::{Reader, Stop};
use super::keys::{Keys, is_key};
use super::node::{Node, ParseError, Pos, Value};

/// Limits that keep hostile input (deep nesting, alias bombs) from costing unbounded time or
/// memory. Every value counts, written or expanded from an alias; a 100,000-container fleet
/// written one entry per container holds about 4 to 5 million, so [`MAX_VALUES`] is far above
/// any real spec file (and a 64 MiB file cannot write many more), while an alias bomb is caught
/// by [`ALIAS_FACTOR`]: what aliases expand to must stay proportionate to what is written.
pub const MAX_DEPTH: usize = 64;
/// Most values one file may hold, written and expanded from aliases together.
pub const MAX_VALUES: usize = 20_000_000;
/// Aliases may expand to at most this many times the values written so far...
pub const ALIAS_FACTOR: usize = 16;
/// ...plus this many, so that small files may use aliases freely.
pub const ALIAS_ALLOWANCE: usize = 1_000_000;
const MAX_DOCUMENTS: usize = 1_024;

/// Parses one file into documents of [`Node`]s.
///
/// Built on serde-saphyr's own YAML parser (granit-parser) at the event level rather than through
/// serde: a positioned tree through serde's `Spanned` machinery cost three times as much on large
/// specs (docs/decisions.md). Budgets apply: nesting depth, documents, values written and values
/// expanded from aliases (each time an alias is used), checked as each value arrives so that a
/// bomb is refused before it is built.
pub fn parse_documents(text: &str, file: u32) -> Result<Vec<Node>, ParseError> {
    parse_streaming(text, file, &mut |_: usize, _: &str, item: Node| Some(item))
}

/// What to do with each item of a document's top-level lists (`containers:`, `hosts:`) as soon
/// as it is complete: called with the document's index, the list's key and the item, it returns
/// the item to keep it in the tree, or `None` when it took the item. Decoding items as they come
/// means a big spec's tree is never held whole (a 100,000-container file's tree is several
/// hundred MB).
pub trait Items {
    /// Takes or gives back one item.
    fn item(&mut self, document: usize, list: &str, item: Node) -> Option<Node>;
}

impl<F: FnMut(usize, &str, Node) -> Option<Node>> Items for F {
    fn item(&mut self, document: usize, list: &str, item: Node) -> Option<Node> {
        self(document, list, item)
    }
}

/// [`parse_documents`], handing each item of a top-level list to `items` as it completes.
pub fn parse_streaming(
    text: &str,
    file: u32,
    items: &mut dyn Items,
) -> Result<Vec<Node>, ParseError> {
    parse_with(text, file, items, Reader::Full).map_err(|stop| match stop {
        Stop::Failed(e) => e,
        Stop::Unsupported => unreachable!("the full parser reads all of YAML"),
    })
}

/// [`parse_streaming`] with the events of `reader`: with [`Reader::Quick`], a text outside the
/// quick scanner's subset stops with [`Stop::Unsupported`] (the items handed so far are to be
/// forgotten), and is to be read again with [`Reader::Full`].
pub fn parse_with(
    text: &str,
    file: u32,
    items: &mut dyn Items,
    reader: Reader,
) -> Result<Vec<Node>, Stop> {
    use super::events::Kind;
    let mut b = Builder {
        file,
        items,
        stack: Vec::new(),
        anchors: HashMap::new(),
        written: 0,
        expanded: 0,
        docs: Vec::new(),
    };
    super::events::for_each_event(text, file, reader, &mut |event| {
        let pos = event.pos;
        match event.kind {
            Kind::DocumentStart => {
                if b.docs.len() >= MAX_DOCUMENTS {
                    return Err(b.fail(
                        pos,
                        format!("more than {MAX_DOCUMENTS} documents in one file"),
                    ));
                }
                b.anchors.clear();
            }
            Kind::Scalar {
                text,
                plain,
                anchor,
            } => {
                let v = if plain {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                b.value(Node { pos, value: v }, anchor)?;
            }
            Kind::SequenceStart(anchor) => b.open(pos, Value::Seq(Vec::new()), anchor)?,
            Kind::MappingStart(anchor) => b.open(pos, Value::Map(Vec::new()), anchor)?,
            Kind::End => b.close()?,
            Kind::Alias(id) => {
                let Some(&(_, size)) = b.anchors.get(&id) else {
                    return Err(b.fail(pos, "alias to an unknown anchor".into()));
                };
                b.expand(size, pos)?;
                let node = b.anchors[&id].0.clone();
                b.place(Node { pos, ..node }, 0)?;
            }
        }
        Ok(())
    })?;
    Ok(b.docs)
}

/// An open collection: its node, its anchor, and for mappings a key waiting for its value.
struct Open {
    node: Node,
    anchor: usize,
    key: Option<Node>,
    /// The keys of a mapping's entries.
    keys: Keys,
    /// Entries from merge keys, added at the end where the mapping does not set them itself.
    merged: Vec<(Node, Node)>,
    /// The keys of `merged`.
    merged_keys: Keys,
}

struct Builder<'i> {
    file: u32,
    /// Where the items of top-level lists go.
    items: &'i mut dyn Items,
    stack: Vec<Open>,
    /// Anchored values and how many values each stands for.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values written in the file (scalars and collections).
    written: usize,
    /// Values added by expanding aliases.
    expanded: usize,
    docs: Vec<Node>,
}

impl Builder<'_> {
    fn fail(&self, pos: Pos, message: String) -> ParseError {
        let _ = self.file;
        ParseError {
            pos: Some(pos),
            message,
        }
    }

    /// Counts one value written in the file.
    fn write(&mut self, pos: Pos) -> Result<(), ParseError> {
        self.written += 1;
        self.total(pos)
    }

    /// Counts the `n` values an alias expands to, refusing expansion out of proportion to what
    /// is written: the mark of an alias bomb rather than of a big file.
    fn expand(&mut self, n: usize, pos: Pos) -> Result<(), ParseError> {
        self.expanded += n;
        let allowed = self.written * ALIAS_FACTOR + ALIAS_ALLOWANCE;
        if self.expanded > allowed {
            return Err(self.fail(
                pos,
                format!(
                    "aliases expand to more than {allowed} YAML values, {ALIAS_FACTOR} times the \
                     {} written so far plus {ALIAS_ALLOWANCE} (an alias bomb?); write the values \
                     out or use fewer aliases",
                    self.written
                ),
            ));
        }
        self.total(pos)
    }

    fn total(&self, pos: Pos) -> Result<(), ParseError> {
        if self.written + self.expanded > MAX_VALUES {
            return Err(self.fail(
                pos,
                format!(
                    "the file holds more than {MAX_VALUES} YAML values (aliases counted each \
                     time they are used); split the fleet into several files"
                ),
            ));
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos, value: Value, anchor: usize) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.fail(pos, format!("values are nested more than {MAX_DEPTH} deep")));
        }
        self.write(pos)?;
        self.stack.push(Open {
            node: Node { pos, value },
            anchor,
            key: None,
            keys: Keys::default(),
            merged: Vec::new(),
            merged_keys: Keys::default(),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let mut open = self.stack.pop().expect("parser balances collections");
        if let Value::Map(entries) = &mut open.node.value {
            for (k, v) in open.merged {
                if !open.keys.contains(entries, &k.value) {
                    open.keys.push(entries, (k, v));
                }
            }
        }
        self.place(open.node, open.anchor)
    }

    /// A scalar written in the file.
    fn value(&mut self, node: Node, anchor: usize) -> Result<(), ParseError> {
        self.write(node.pos)?;
        self.place(node, anchor)
    }

    /// Places a complete value into its parent (or as a document).
    fn place(&mut self, node: Node, anchor: usize) -> Result<(), ParseError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.values()));
        }
        let node = match top_level_list(&self.stack) {
            Some(list) => match self.items.item(self.docs.len(), list, node) {
                Some(node) => node,
                None => return Ok(()),
            },
            None => node,
        };
        let Some(parent) = self.stack.last_mut() else {
            self.docs.push(node);
            return Ok(());
        };
        match &mut parent.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match parent.key.take() {
                None if !is_key(&node.value) => {
                    return Err(self.fail(
                        node.pos,
                        "a list or mapping cannot be a mapping key; keys are plain names".into(),
                    ));
                }
                None => parent.key = Some(node),
                Some(key) => {
                    if key.value == Value::Str("<<".into()) {
                        merge(&mut parent.merged, &mut parent.merged_keys, node);
                    } else if parent.keys.contains(entries, &key.value) {
                        let (pos, name) = (key.pos, key.scalar_text().unwrap_or_default());
                        return Err(
                            self.fail(pos, format!("duplicate key \"{name}\" in a mapping"))
                        );
                    } else {
                        parent.keys.push(entries, (key, node));
                    }
                }
            },
            _ => unreachable!("only collections are open"),
        }
        Ok(())
    }
}

/// The key of the list being filled, when it is a list at the top of a document's mapping.
fn top_level_list(stack: &[Open]) -> Option<&str> {
    match stack {
        [
            Open {
                node:
                    Node {
                        value: Value::Map(_),
                        ..
                    },
                key:
                    Some(Node {
                        value: Value::Str(key),
                        ..
                    }),
                ..
            },
            Open {
                node:
                    Node {
                        value: Value::Seq(_),
                        ..
                    },
                ..
            },
        ] => Some(key),
        _ => None,
    }
}

/// YAML merge keys (`<<: *base`): collects the merged mapping(s)' entries, earlier ones first.
fn merge(entries: &mut Vec<(Node, Node)>, keys: &mut Keys, from: Node) {
    let sources = match from.value {
        Value::Map(m) => vec![m],
        Value::Seq(items) => items
            .into_iter()
            .filter_map(|n| match n.value {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for source in sources {
        for (k, v) in source {
            if !keys.contains(entries, &k.value) {
                keys.push(entries, (k, v));
            }
        }
    }
}

/// The YAML 1.2 core schema for plain scalars: null, booleans, integers, floats, else a string.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::Str(text.to_string());
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i128::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i128::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i128>()
    {
        return Value::Int(i);
    }
    let float_like = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_like && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_recorded() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - {c: true}\n---\nz: ~\n", 3).unwrap();
        assert_eq!(docs.len(), 2);
        let Value::Map(entries) = &docs[0].value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.value, Value::Str("a".into()));
        assert_eq!((entries[0].1.pos.line, entries[0].1.pos.column), (1, 4));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!((items[1].pos.line, items[1].pos.column), (4, 5));
        assert_eq!(items[1].pos.file, 3);
        let Value::Map(z) = &docs[1].value else {
            panic!()
        };
        assert_eq!(z[0].1.value, Value::Null);
        assert_eq!(z[0].0.pos.line, 6);
    }

    #[test]
    fn merge_keys_duplicates_and_scalars() {
        let docs = parse_documents(
            "base: &b {memory: 1Gi, pids: 10}\nx:\n  <<: *b\n  pids: 20\nn: [0x10, 1.5, -3, '7', ~, yes]\n",
            0,
        )
        .unwrap();
        let Value::Map(top) = &docs[0].value else {
            panic!()
        };
        let Value::Map(x) = &top[1].1.value else {
            panic!()
        };
        let keys: Vec<String> = x.iter().map(|(k, _)| k.scalar_text().unwrap()).collect();
        assert_eq!(keys, ["pids", "memory"]);
        assert_eq!(x[0].1.value, Value::Int(20));
        let Value::Seq(n) = &top[2].1.value else {
            panic!()
        };
        let values: Vec<&Value> = n.iter().map(|n| &n.value).collect();
        assert_eq!(
            values,
            [
                &Value::Int(16),
                &Value::Float(1.5),
                &Value::Int(-3),
                &Value::Str("7".into()),
                &Value::Null,
                &Value::Str("yes".into())
            ]
        );
        let err = parse_documents("a: 1\nb: 2\na: 3\n", 0).unwrap_err();
        assert_eq!(err.message, "duplicate key \"a\" in a mapping");
        assert_eq!(err.pos.map(|p| (p.line, p.column)), Some((3, 1)));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_documents(&text, 0).is_err());
    }
}
