//! Typed reading of positioned YAML values, recording a located diagnostic for every value that
//! has the wrong shape, an unknown name or a bad unit, and going on so that one run reports all.

use std::collections::BTreeMap;

use fleet_protocol::units;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::node::{Node, Value};
use super::raw::At;
use super::suggest::closest;

/// The entries of a mapping whose keys have been checked against the known field names.
pub struct Fields<'a> {
    entries: &'a [(Node, Node)],
    /// The key a nested mapping stands under (`capacity`): diagnostics name its fields
    /// `capacity.cpus`. `None` for an entry of a list, whose fields go by their own names.
    under: Option<&'static str>,
}

impl<'a> Fields<'a> {
    /// Opens `node` as a mapping describing `what`; reports unknown keys with a suggestion.
    /// `null` counts as an empty mapping. Returns `None` (after reporting) if it is no mapping.
    pub fn open(node: &'a Node, what: &str, known: &[&str], d: &mut Diagnostics) -> Option<Self> {
        let entries: &'a [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                d.push(
                    Diagnostic::at(
                        node.pos,
                        format!("expected a mapping for {what}, found {}", other.kind()),
                    )
                    .hint(format!("{what} takes the fields: {}", known.join(", "))),
                );
                return None;
            }
        };
        for (key, _) in entries {
            let name = key.scalar_str().unwrap_or_default();
            if !known.contains(&name.as_ref()) {
                let hint = match closest(&name, known.iter().copied()) {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => format!("{what} takes the fields: {}", known.join(", ")),
                };
                d.push(
                    Diagnostic::at(key.pos, format!("unknown field \"{name}\" in {what}"))
                        .hint(hint),
                );
            }
        }
        Some(Fields {
            entries,
            under: None,
        })
    }

    /// Opens `node`, the value of `key` (`capacity:`), as a mapping whose fields diagnostics
    /// name `key.field`.
    pub fn open_nested(
        node: &'a Node,
        key: &'static str,
        known: &[&str],
        d: &mut Diagnostics,
    ) -> Option<Self> {
        let f = Fields::open(node, key, known, d)?;
        Some(Fields {
            under: Some(key),
            ..f
        })
    }

    /// The mapping under field `key`, if present: [`Fields::open_nested`].
    pub fn nested(&self, key: &'static str, known: &[&str], d: &mut Diagnostics) -> Option<Self> {
        Fields::open_nested(self.get(key)?, key, known, d)
    }

    /// How diagnostics name field `key` of this mapping.
    pub fn field(&self, key: &str) -> String {
        match self.under {
            Some(under) => format!("{under}.{key}"),
            None => key.to_string(),
        }
    }

    /// Field `key`, if present, read by `read` (one of this module's functions) under its name
    /// in diagnostics.
    pub fn read<T>(
        &self,
        key: &str,
        d: &mut Diagnostics,
        read: impl FnOnce(&'a Node, &str, &mut Diagnostics) -> Option<T>,
    ) -> Option<T> {
        read(self.get(key)?, &self.field(key), d)
    }

    /// Field `key` as a non-empty string ([`name`]).
    pub fn name(&self, key: &str, d: &mut Diagnostics) -> Option<At<String>> {
        self.read(key, d, name)
    }

    /// Field `key` as a whole number within `min..=max` ([`uint`]).
    pub fn uint<T: TryFrom<i128> + Copy>(
        &self,
        key: &str,
        min: i128,
        max: i128,
        d: &mut Diagnostics,
    ) -> Option<At<T>> {
        self.read(key, d, |n, field, d| uint(n, field, min, max, d))
    }

    /// Field `key` as `true` or `false` ([`boolean`]).
    pub fn boolean(&self, key: &str, d: &mut Diagnostics) -> Option<bool> {
        self.read(key, d, boolean)
    }

    /// Field `key` as a byte size of at least `min` bytes ([`size`]).
    pub fn size(&self, key: &str, min: u64, d: &mut Diagnostics) -> Option<At<u64>> {
        self.read(key, d, |n, field, d| size(n, field, min, d))
    }

    /// Field `key` as a list of strings ([`strings`]); empty when absent.
    pub fn strings(&self, key: &str, d: &mut Diagnostics) -> Vec<At<String>> {
        self.get(key)
            .map(|n| strings(n, &self.field(key), d))
            .unwrap_or_default()
    }

    /// Field `key` as a ratio within `min..=max` ([`ratio`]).
    pub fn ratio(&self, key: &str, min: f64, max: f64, d: &mut Diagnostics) -> Option<At<f64>> {
        self.read(key, d, |n, field, d| ratio(n, field, min, max, d))
    }

    /// Field `key` as text ([`text`]).
    pub fn text(&self, key: &str, d: &mut Diagnostics) -> Option<At<String>> {
        self.read(key, d, text)
    }

    /// Field `key` as a mapping of strings ([`string_map`]); empty when absent.
    pub fn string_map(&self, key: &str, d: &mut Diagnostics) -> BTreeMap<String, String> {
        self.get(key)
            .map(|n| string_map(n, &self.field(key), d))
            .unwrap_or_default()
    }

    /// The value of a field, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    }
}

fn wrong(d: &mut Diagnostics, node: &Node, field: &str, expected: &str) {
    d.push(Diagnostic::at(
        node.pos,
        format!(
            "expected {expected} for \"{field}\", found {}",
            node.value.kind()
        ),
    ));
}

/// A scalar as text (numbers and booleans as written).
pub fn text(node: &Node, field: &str, d: &mut Diagnostics) -> Option<At<String>> {
    match node.scalar_text() {
        Some(s) => Some(At::new(node.pos, s)),
        None => {
            wrong(d, node, field, "a string");
            None
        }
    }
}

/// A non-empty string.
pub fn name(node: &Node, field: &str, d: &mut Diagnostics) -> Option<At<String>> {
    let value = text(node, field, d)?;
    if value.value.trim().is_empty() {
        d.error(node.pos, format!("\"{field}\" must not be empty"));
        return None;
    }
    Some(value)
}

/// A whole number within `min..=max`.
pub fn uint<T: TryFrom<i128> + Copy>(
    node: &Node,
    field: &str,
    min: i128,
    max: i128,
    d: &mut Diagnostics,
) -> Option<At<T>> {
    let n = match &node.value {
        Value::Int(i) => *i,
        Value::Str(s) => match s.trim().parse::<i128>() {
            Ok(i) => i,
            Err(_) => {
                wrong(d, node, field, "a whole number");
                return None;
            }
        },
        _ => {
            wrong(d, node, field, "a whole number");
            return None;
        }
    };
    if n < min || n > max {
        d.push(Diagnostic::at(
            node.pos,
            format!("\"{field}\" must be between {min} and {max}, found {n}"),
        ));
        return None;
    }
    T::try_from(n).ok().map(|v| At::new(node.pos, v))
}

/// A byte size (`512Mi`, `2G`, a number of bytes) of at least `min` bytes.
pub fn size(node: &Node, field: &str, min: u64, d: &mut Diagnostics) -> Option<At<u64>> {
    let bytes = match &node.value {
        Value::Int(i) if *i >= 0 => u64::try_from(*i).ok(),
        Value::Str(s) => match units::parse_size(s) {
            Ok(b) => Some(b),
            Err(e) => {
                d.push(Diagnostic::at(node.pos, format!("\"{field}\": {e}")));
                return None;
            }
        },
        Value::Float(_) | Value::Int(_) => None,
        _ => {
            wrong(d, node, field, "a size such as 512Mi");
            return None;
        }
    };
    let Some(bytes) = bytes else {
        d.push(
            Diagnostic::at(node.pos, format!("invalid size for \"{field}\""))
                .hint("write a whole number of bytes or a size with a unit, such as 512Mi or 2Gi"),
        );
        return None;
    };
    if bytes < min {
        d.push(
            Diagnostic::at(
                node.pos,
                format!(
                    "\"{field}\" must be at least {}, found {}",
                    units::format_size(min),
                    units::format_size(bytes)
                ),
            )
            .hint(format!(
                "the smallest valid value is {}",
                units::format_size(min)
            )),
        );
        return None;
    }
    Some(At::new(node.pos, bytes))
}

/// A percentage (`150%` or `150`) within `min..=max`.
pub fn percent(
    node: &Node,
    field: &str,
    min: u32,
    max: u32,
    d: &mut Diagnostics,
) -> Option<At<u32>> {
    let value = match &node.value {
        Value::Int(i) => u32::try_from(*i).ok(),
        Value::Str(s) => match units::parse_percent(s) {
            Ok(p) => Some(p),
            Err(e) => {
                d.push(Diagnostic::at(node.pos, format!("\"{field}\": {e}")));
                return None;
            }
        },
        _ => {
            wrong(d, node, field, "a percentage such as 150%");
            return None;
        }
    };
    match value {
        Some(p) if (min..=max).contains(&p) => Some(At::new(node.pos, p)),
        _ => {
            d.push(Diagnostic::at(
                node.pos,
                format!(
                    "\"{field}\" must be between {min}% and {max}%, found {}",
                    node.scalar_text().unwrap_or_default()
                ),
            ));
            None
        }
    }
}

/// A ratio such as an overcommit factor, within `min..=max`.
pub fn ratio(node: &Node, field: &str, min: f64, max: f64, d: &mut Diagnostics) -> Option<At<f64>> {
    let value = match &node.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match value {
        Some(v) if v.is_finite() && v >= min && v <= max => Some(At::new(node.pos, v)),
        Some(v) => {
            d.push(Diagnostic::at(
                node.pos,
                format!("\"{field}\" must be between {min} and {max}, found {v}"),
            ));
            None
        }
        None => {
            wrong(d, node, field, "a number such as 1.5");
            None
        }
    }
}

/// `true` or `false`.
pub fn boolean(node: &Node, field: &str, d: &mut Diagnostics) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => {
            wrong(d, node, field, "true or false");
            None
        }
    }
}

/// The items of a list.
pub fn list<'a>(node: &'a Node, field: &str, d: &mut Diagnostics) -> &'a [Node] {
    match &node.value {
        Value::Seq(items) => items,
        Value::Null => &[],
        _ => {
            wrong(d, node, field, "a list");
            &[]
        }
    }
}

/// A list of strings.
pub fn strings(node: &Node, field: &str, d: &mut Diagnostics) -> Vec<At<String>> {
    list(node, field, d)
        .iter()
        .filter_map(|item| text(item, field, d))
        .collect()
}

/// A mapping of strings to strings (labels, env, selectors).
pub fn string_map(node: &Node, field: &str, d: &mut Diagnostics) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if let (Some(k), Some(v)) = (text(k, field, d), text(v, field, d)) {
                    out.insert(k.value, v.value);
                }
            }
        }
        Value::Null => {}
        _ => wrong(d, node, field, "a mapping of names to values"),
    }
    out
}

/// One of a fixed set of words.
pub fn choice<'c>(
    node: &Node,
    field: &str,
    choices: &[&'c str],
    d: &mut Diagnostics,
) -> Option<&'c str> {
    let word = text(node, field, d)?;
    match choices.iter().find(|c| **c == word.value) {
        Some(c) => Some(c),
        None => {
            let mut diag = Diagnostic::at(
                node.pos,
                format!(
                    "\"{field}\" must be one of {}, found \"{}\"",
                    choices.join(", "),
                    word.value
                ),
            );
            if let Some(s) = closest(&word.value, choices.iter().copied()) {
                diag = diag.hint(format!("did you mean \"{s}\"?"));
            }
            d.push(diag);
            None
        }
    }
}
