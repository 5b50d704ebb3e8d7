//! Right-sizing (`fleet advise`): the memory counters every node reports (limit, peak, failcnt)
//! against the spec, turned into edits of the user's own spec text. Nothing is applied: the
//! user reads the diff, commits it and runs `fleet apply`.
//!
//! `rules` says what one container's figures call for; `locate` finds where each container's
//! limit is written (its entry, its set's entry, or its profile), so that containers sharing one
//! written value are advised together; `edit` changes those values in the text and shows the
//! unified diff. A shared value is raised when any of its containers hit the limit (to the
//! largest figure any of them needs) and lowered only when every one of them, observed running,
//! used under half of it; otherwise it is left, and the advice says why.

pub mod edit;
pub mod locate;
pub mod rules;

use std::collections::BTreeMap;

use fleet_protocol::units::format_size;
use serde::Serialize;

use crate::spec::Sources;
use crate::spec::node::Pos;
use locate::Located;
use rules::{Direction, MemoryFigures, Verdict};

/// One suggested edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// What holds the value: `container web-{01..20}` or `profile small`.
    pub holder: String,
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line of the value.
    pub line: u32,
    /// 1-based column of the value.
    pub column: u32,
    /// The containers the value applies to.
    pub containers: Vec<String>,
    /// Raise or lower.
    pub direction: Direction,
    /// The limit now (bytes).
    pub from: u64,
    /// The limit suggested (bytes).
    pub to: u64,
    /// Why, one line per container that asks for it, and how the set's members agree.
    pub why: Vec<String>,
}

/// A value left alone although some of its containers asked for a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// What holds the value.
    pub holder: String,
    /// Why nothing is suggested.
    pub why: String,
}

/// Everything `fleet advise` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// The edits, in file order.
    pub suggestions: Vec<Suggestion>,
    /// Shared values left alone, with why.
    pub held: Vec<Held>,
    /// Containers of the spec whose figures no node reported (not running, or unreachable).
    pub unobserved: Vec<String>,
    /// The unified diff of every edit, per file.
    pub diff: String,
}

/// Advises on `located`'s containers from `figures` (container name to its memory figures, for
/// those running), editing the texts in `sources`.
pub fn advise(
    located: &Located,
    figures: &BTreeMap<String, MemoryFigures>,
    sources: &Sources,
) -> Advice {
    let mut advice = Advice::default();
    // Containers grouped by the written value their limit comes from.
    let mut groups: BTreeMap<Pos, Group> = BTreeMap::new();
    for (name, (_, place)) in &located.containers {
        if !figures.contains_key(name) {
            advice.unobserved.push(name.clone());
        }
        if let Some(p) = place {
            groups
                .entry(p.pos)
                .or_insert_with(|| Group {
                    holder: p.holder.clone(),
                    members: Vec::new(),
                })
                .members
                .push(name);
        }
    }
    let mut edits: BTreeMap<u32, Vec<edit::Edit>> = BTreeMap::new();
    for (pos, Group { holder, members }) in groups {
        let verdicts: Vec<(&str, &MemoryFigures, Option<Verdict>)> = members
            .iter()
            .filter_map(|m| figures.get(*m).map(|f| (*m, f, rules::memory(f))))
            .collect();
        let Some(suggestion) = group(&holder, &members, &verdicts, &mut advice.held) else {
            continue;
        };
        let Some(file) = sources.file(pos.file) else {
            continue;
        };
        edits.entry(pos.file).or_default().push(edit::Edit {
            line: pos.line,
            column: pos.column,
            text: format_size(suggestion.to),
        });
        let mut s = suggestion;
        s.file = file.name.clone();
        s.line = pos.line;
        s.column = pos.column;
        advice.suggestions.push(s);
    }
    for (id, list) in edits {
        let file = sources.file(id).expect("located in it");
        let new = edit::apply(&file.text, &list);
        advice
            .diff
            .push_str(&edit::unified(&file.name, &file.text, &new));
    }
    advice
}

/// The containers whose limit is one written value.
struct Group<'a> {
    holder: String,
    members: Vec<&'a str>,
}

/// The one suggestion for a written value shared by `members`, of which `verdicts` were
/// observed; `None` (and a [`Held`] when some asked) when the value should stay.
fn group(
    holder: &str,
    members: &[&str],
    verdicts: &[(&str, &MemoryFigures, Option<Verdict>)],
    held: &mut Vec<Held>,
) -> Option<Suggestion> {
    let limit = verdicts.first()?.1.limit;
    // The members whose verdict goes `direction`, with it.
    let going = |direction: Direction| -> Vec<(&str, &Verdict)> {
        verdicts
            .iter()
            .filter_map(|(n, _, v)| {
                v.as_ref()
                    .filter(|v| v.direction == direction)
                    .map(|v| (*n, v))
            })
            .collect()
    };
    let raises = going(Direction::Raise);
    let lowers = going(Direction::Lower);
    let shared = members.len() > 1;
    let (direction, going_that_way) = if !raises.is_empty() {
        (Direction::Raise, &raises)
    } else if !lowers.is_empty() {
        if lowers.len() < members.len() {
            held.push(Held {
                holder: holder.to_owned(),
                why: format!(
                    "{} of its {} containers used under half of {}, but not all (or not all are running): \
                     the shared value stays",
                    lowers.len(),
                    members.len(),
                    format_size(limit)
                ),
            });
            return None;
        }
        (Direction::Lower, &lowers)
    } else {
        return None;
    };
    let to = going_that_way.iter().map(|(_, v)| v.memory).max()?;
    let mut why: Vec<String> = going_that_way
        .iter()
        .map(|(n, v)| format!("{n} {}", v.why))
        .collect();
    if shared {
        why.push(match direction {
            Direction::Raise if raises.len() == members.len() => {
                format!("all {} containers of {holder} agree: the shared value is edited", members.len())
            }
            Direction::Raise => format!(
                "{} of the {} containers of {holder} hit the limit: the shared value is raised for all",
                raises.len(),
                members.len()
            ),
            Direction::Lower => format!(
                "all {} containers of {holder} agree: the shared value is edited",
                members.len()
            ),
        });
    }
    let mut containers: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    containers.sort();
    Some(Suggestion {
        holder: holder.to_owned(),
        file: String::new(),
        line: 0,
        column: 0,
        containers,
        direction,
        from: limit,
        to,
        why,
    })
}
