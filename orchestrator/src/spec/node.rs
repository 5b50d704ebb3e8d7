//! A YAML document as a tree of values that each remember where they were written.
//!
//! `build` makes these trees from serde-saphyr's parser events, under budgets, so that `decode`
//! can check every field and report *all* problems with their line and column, rather than
//! stopping at the first one as a derived `Deserialize` would.

/// A place in a source file: 1-based line and character column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Index of the file in the [`super::source::Sources`] it was loaded into.
    pub file: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub value: Value,
}

/// The shapes a YAML value can take.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i128),
    /// A number with a fraction.
    Float(f64),
    /// Any other scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with its keys in written order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a user would call this kind of value, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// How many values this one stands for: 1 for a scalar, 1 plus its items' (keys and values)
    /// for a collection. The unit of the loader's budgets.
    pub fn values(&self) -> usize {
        count_values(self)
    }

    /// The scalar as text, borrowed where it is a string: [`Node::scalar_text`] without the copy.
    pub fn scalar_str(&self) -> Option<std::borrow::Cow<'_, str>> {
        match &self.value {
            Value::Str(s) => Some(std::borrow::Cow::Borrowed(s)),
            _ => self.scalar_text().map(std::borrow::Cow::Owned),
        }
    }

    /// The scalar as text, if it is a scalar (numbers and booleans as written in canonical form).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// Why a file did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where, if known.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
}

fn count_values(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_values).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_values(k) + count_values(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}
