//! The keys of one YAML mapping, for the duplicate-key and merge-key (`<<`) rules in linear time:
//! a few keys are compared one by one, a mapping that grows past [`SMALL`] keys gets a hash set,
//! so a file of one huge mapping costs no more than the same values in a list.

use std::collections::HashSet;

use super::node::{Node, Value};

/// Mappings up to this many keys are searched by comparing each key: no allocation, and cheaper
/// than hashing for the dozen keys of a container entry.
const SMALL: usize = 32;

/// A key as a hashable value. Only scalars are keys: a list or mapping as a key is refused
/// where the mapping is built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
    Str(String),
}

impl Key {
    fn of(value: &Value) -> Option<Key> {
        Some(match value {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) => Key::Float(f.to_bits()),
            Value::Str(s) => Key::Str(s.clone()),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }
}

/// Whether `value` may be a mapping key.
pub fn is_key(value: &Value) -> bool {
    !matches!(value, Value::Seq(_) | Value::Map(_))
}

/// The keys of a list of mapping entries, indexed once the list is long.
#[derive(Debug, Default)]
pub struct Keys {
    index: Option<HashSet<Key>>,
}

impl Keys {
    /// Whether `key` is among the keys of `entries` (which this set has seen grow).
    pub fn contains(&self, entries: &[(Node, Node)], key: &Value) -> bool {
        match (&self.index, Key::of(key)) {
            (Some(index), Some(k)) => index.contains(&k),
            _ => entries.iter().any(|(e, _)| e.value == *key),
        }
    }

    /// Appends an entry whose key is not yet present.
    pub fn push(&mut self, entries: &mut Vec<(Node, Node)>, entry: (Node, Node)) {
        match &mut self.index {
            Some(index) => {
                index.extend(Key::of(&entry.0.value));
            }
            None if entries.len() >= SMALL => {
                let mut index: HashSet<Key> = entries
                    .iter()
                    .filter_map(|(k, _)| Key::of(&k.value))
                    .collect();
                index.extend(Key::of(&entry.0.value));
                self.index = Some(index);
            }
            None => {}
        }
        entries.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::Pos;

    fn node(value: Value) -> Node {
        Node {
            pos: Pos::default(),
            value,
        }
    }

    #[test]
    fn small_and_indexed_sets_agree() {
        let mut keys = Keys::default();
        let mut entries = Vec::new();
        for i in 0..100 {
            let k = Value::Str(format!("k{i}"));
            assert!(!keys.contains(&entries, &k));
            keys.push(&mut entries, (node(k.clone()), node(Value::Null)));
            assert!(keys.contains(&entries, &k));
        }
        assert!(keys.index.is_some());
        assert!(!keys.contains(&entries, &Value::Int(1)));
        assert!(!keys.contains(&entries, &Value::Str("k100".into())));
    }
}
