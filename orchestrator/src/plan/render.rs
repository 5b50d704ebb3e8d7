//! A [`Plan`] as people read it (per host, `+` create, `~` live change, `!` restart, `-`
//! destroy, `-/+` recreate, `>` move from another host, field diffs, a summary line) and as machines read it (JSON).
//!
//! Used by `fleet plan` and by `fleet apply` before it asks for confirmation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Plan, Step, StepKind, Summary};
use crate::diff::{Effect, FieldDiff, Refusal};

/// The summary line: `Plan: 1 to create, 2 to update live, 0 to restart, 0 to destroy.`, with
/// `, 1 to move` before the period when there are moves.
pub fn summary_line(s: &Summary) -> String {
    let moves = match s.moves {
        0 => String::new(),
        n => format!(", {n} to move"),
    };
    format!(
        "Plan: {} to create, {} to update live, {} to restart, {} to destroy{moves}.",
        s.create, s.update_live, s.restart, s.destroy
    )
}

/// The plan as text, ending with the summary line (or `No changes.`).
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let d = &plan.diff;
    let mut by_host: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
    for s in &plan.steps {
        by_host.entry(s.change.host.as_str()).or_default().push(s);
    }
    let mut skipped: BTreeMap<&str, Vec<&Refusal>> = BTreeMap::new();
    for r in &d.skipped {
        skipped.entry(r.host.as_str()).or_default().push(r);
    }
    let mut hosts: Vec<&str> = by_host.keys().copied().collect();
    hosts.extend(d.unreachable.keys().map(String::as_str));
    hosts.sort_unstable();
    hosts.dedup();
    for host in hosts {
        if let Some(error) = d.unreachable.get(host) {
            let n = skipped.get(host).map_or(0, Vec::len);
            let _ = writeln!(
                out,
                "{host}: unreachable ({error}); nothing on it is touched, {n} container(s) not planned"
            );
            continue;
        }
        let _ = writeln!(out, "{host}:");
        let mut steps = by_host.remove(host).unwrap_or_default();
        steps.sort_by(|a, b| a.change.name.cmp(&b.change.name));
        for s in steps {
            step_text(&mut out, s);
        }
    }
    if !d.refused.is_empty() {
        let _ = writeln!(out, "Refused (left as they are):");
        for r in &d.refused {
            if r.host.is_empty() {
                let _ = writeln!(out, "  {}: {}", r.name, r.reason);
            } else {
                let _ = writeln!(out, "  {} on {}: {}", r.name, r.host, r.reason);
            }
        }
    }
    if !d.not_in_spec.is_empty() {
        let _ = writeln!(
            out,
            "Not in spec ({} kept; pass --prune to destroy them):",
            d.not_in_spec.len()
        );
        for (host, name) in &d.not_in_spec {
            let _ = writeln!(out, "  {host}: {name}");
        }
    }
    if !plan.untargeted.is_empty() {
        let _ = writeln!(
            out,
            "Not targeted ({} left as they are, for a later apply):",
            plan.untargeted.len()
        );
        for u in &plan.untargeted {
            match u.host.as_str() {
                "" => {
                    let _ = writeln!(out, "  {} ({})", u.name, u.action);
                }
                host => {
                    let _ = writeln!(out, "  {host}: {} ({})", u.name, u.action);
                }
            }
        }
    }
    for w in &d.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let left = left_out(d);
    match (plan.is_empty(), left.is_empty()) {
        (true, true) => out.push_str("No changes.\n"),
        (true, false) => {
            let _ = writeln!(out, "No changes planned; {}.", left.join(", "));
        }
        (false, true) => {
            out.push_str(&summary_line(&plan.summary()));
            out.push('\n');
        }
        (false, false) => {
            let line = summary_line(&plan.summary());
            let line = line.strip_suffix('.').unwrap_or(&line);
            let _ = writeln!(out, "{line}; {}.", left.join(", "));
        }
    }
    out
}

/// What the plan leaves undone although the spec wants it, for the summary line: containers
/// refused, and containers not planned because their host is unreachable. Empty when the plan
/// covers the whole spec; otherwise `plan` and `apply` exit 1.
pub fn left_out(d: &crate::diff::Diff) -> Vec<String> {
    let mut out = Vec::new();
    if !d.refused.is_empty() {
        out.push(format!("{} refused", d.refused.len()));
    }
    match (d.skipped.len(), d.unreachable.len()) {
        (_, 0) => {}
        (0, hosts) => out.push(format!("{hosts} host(s) unreachable")),
        (skipped, hosts) => out.push(format!(
            "{skipped} not planned on {hosts} unreachable host(s)"
        )),
    }
    out
}

fn step_text(out: &mut String, s: &Step) {
    let restart_fields = || {
        s.change
            .fields
            .iter()
            .filter(|f| f.effect >= Effect::Restart)
            .map(|f| f.field.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (symbol, what) = match s.kind {
        StepKind::Create => ("+", "create".to_string()),
        StepKind::Start => ("~", "start".to_string()),
        StepKind::Stop => ("~", "stop".to_string()),
        StepKind::UpdateLive => ("~", "update live".to_string()),
        StepKind::UpdateRestart => ("!", format!("restart for {}", restart_fields())),
        StepKind::Recreate => (
            "-/+",
            format!("recreate for {}; its data is lost", restart_fields()),
        ),
        StepKind::Destroy => ("-", "destroy".to_string()),
        StepKind::Move => (
            ">",
            format!(
                "move {} -> {}, {}",
                s.change.from.as_deref().unwrap_or("?"),
                s.change.host,
                if s.change.live { "live" } else { "cold" }
            ),
        ),
    };
    let note = s
        .change
        .note
        .as_deref()
        .map(|n| format!("; {n}"))
        .unwrap_or_default();
    let _ = writeln!(out, "  {symbol} {} ({what}{note})", s.change.name);
    for f in &s.change.fields {
        let _ = writeln!(out, "      {}: {} -> {}", f.field, f.old, f.new);
    }
}

/// One step in the JSON form.
#[derive(Debug, Serialize)]
struct JsonStep<'a> {
    host: &'a str,
    container: &'a str,
    action: StepKind,
    wave: usize,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldDiff],
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    live: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    after: Vec<&'a str>,
}

/// The JSON form of a plan.
#[derive(Debug, Serialize)]
struct JsonPlan<'a> {
    fleet: &'a str,
    changes: bool,
    summary: Summary,
    steps: Vec<JsonStep<'a>>,
    waves: usize,
    unreachable: &'a BTreeMap<String, String>,
    refused: &'a [Refusal],
    skipped: &'a [Refusal],
    not_in_spec: &'a [(String, String)],
    in_sync: usize,
    warnings: &'a [String],
    untargeted: &'a [super::target::Untargeted],
}

/// The plan as a JSON document (stable field names, for scripts).
pub fn json(plan: &Plan) -> serde_json::Value {
    let steps = plan
        .steps
        .iter()
        .map(|s| JsonStep {
            host: &s.change.host,
            container: &s.change.name,
            action: s.kind,
            wave: s.wave,
            fields: &s.change.fields,
            note: s.change.note.as_deref(),
            from: s.change.from.as_deref(),
            live: s.change.live,
            after: s
                .after
                .iter()
                .map(|&a| plan.steps[a].change.name.as_str())
                .collect(),
        })
        .collect();
    let doc = JsonPlan {
        fleet: &plan.diff.fleet,
        changes: !plan.is_empty(),
        summary: plan.summary(),
        steps,
        waves: plan.waves(),
        unreachable: &plan.diff.unreachable,
        refused: &plan.diff.refused,
        skipped: &plan.diff.skipped,
        not_in_spec: &plan.diff.not_in_spec,
        in_sync: plan.diff.in_sync.len(),
        warnings: &plan.diff.warnings,
        untargeted: &plan.untargeted,
    };
    serde_json::to_value(doc).unwrap_or(serde_json::Value::Null)
}
