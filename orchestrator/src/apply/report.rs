//! The outcome of an apply: per step done, failed (with the node's error) or skipped (with why),
//! per host whether the session was lost, and counts; as text for people and JSON for machines.
//!
//! Built by `apply`; printed by `fleet apply` and `fleet destroy`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::error::StepError;
use crate::diff::Refusal;
use crate::plan::StepKind;

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Done; `changed` is false when the node found it already done.
    Done {
        /// Whether the node changed anything.
        changed: bool,
    },
    /// The node (or the session) failed it.
    Failed {
        /// Why (shown, and serialized, as its message).
        error: StepError,
    },
    /// Not attempted.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One step's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Host.
    pub host: String,
    /// Container.
    pub container: String,
    /// What was to be done.
    pub action: StepKind,
    /// What happened.
    pub outcome: Outcome,
}

/// Counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Steps done.
    pub done: usize,
    /// Of those, steps that changed something.
    pub changed: usize,
    /// Steps failed.
    pub failed: usize,
    /// Steps skipped.
    pub skipped: usize,
    /// Containers the plan refused (not placeable, a name another fleet holds, a move that
    /// needs --allow-recreate): never attempted, and the apply is not complete.
    pub refused: usize,
}

/// The whole outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Fleet applied.
    pub fleet: String,
    /// Counts.
    pub counts: Counts,
    /// Hosts whose session was lost, with why.
    pub lost_hosts: BTreeMap<String, String>,
    /// Hosts that had work.
    pub hosts: usize,
    /// Every step.
    pub steps: Vec<StepReport>,
    /// Containers the plan refused, with why.
    pub refused: Vec<Refusal>,
    /// Things an operator should know (missing node features and the like).
    pub notes: Vec<String>,
    /// What each finished move measured (its note says the same in words).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<MoveFigures>,
}

/// A finished move's figures, for `-o json`: sizes in bytes, times in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveFigures {
    /// Container.
    pub container: String,
    /// The host it left.
    pub from: String,
    /// The host it runs on now.
    pub to: String,
    /// Checkpointed and restored (its processes kept) rather than stopped and started.
    pub live: bool,
    /// From the stop (or the freeze) on the source to running on the target, as fleet saw it.
    pub downtime_ms: u64,
    /// The disk image's size.
    pub image_bytes: u64,
    /// Logical bytes of the image sent (its allocated runs that are not zero).
    pub data_bytes: u64,
    /// Bytes of the image that crossed the sessions (compressed where that paid).
    pub sent_bytes: u64,
    /// A live move's own figures, written among the others; absent for a cold move.
    #[serde(flatten)]
    pub live_figures: Option<LiveMoveFigures>,
    /// A move planned live and made cold: why (the target could not restore the tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub made_cold: Option<String>,
}

impl Report {
    /// Counts the steps.
    pub fn new(
        fleet: &str,
        steps: Vec<StepReport>,
        lost_hosts: BTreeMap<String, String>,
        hosts: usize,
    ) -> Report {
        let mut counts = Counts::default();
        for s in &steps {
            match &s.outcome {
                Outcome::Done { changed } => {
                    counts.done += 1;
                    counts.changed += usize::from(*changed);
                }
                Outcome::Failed { .. } => counts.failed += 1,
                Outcome::Skipped { .. } => counts.skipped += 1,
            }
        }
        Report {
            fleet: fleet.into(),
            counts,
            lost_hosts,
            hosts,
            steps,
            refused: Vec::new(),
            notes: Vec::new(),
            moves: Vec::new(),
        }
    }

    /// Records the containers the plan refused: counted, listed, and the apply not complete.
    pub fn refuse(&mut self, refused: &[Refusal]) {
        self.refused = refused.to_vec();
        self.counts.refused = refused.len();
    }

    /// True when every step was done and nothing was refused.
    pub fn ok(&self) -> bool {
        self.counts.failed == 0 && self.counts.skipped == 0 && self.counts.refused == 0
    }

    /// Failures and skips, then the summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (host, why) in &self.lost_hosts {
            let _ = writeln!(out, "error: lost the session with {host}: {why}");
        }
        // A batch that failed as a whole (a held apply lock, most often) is said once per
        // host, with how many steps it took along, not once per container.
        let mut whole: BTreeMap<(&str, String), (usize, bool)> = BTreeMap::new();
        for s in &self.steps {
            match &s.outcome {
                Outcome::Failed {
                    error: StepError::Batch(e),
                } => {
                    let refused = matches!(e, super::error::BatchError::Refused(_));
                    whole
                        .entry((&s.host, e.to_string()))
                        .or_insert((0, refused))
                        .0 += 1;
                }
                Outcome::Failed { error } => {
                    let _ = writeln!(
                        out,
                        "error: {} on {} ({:?}) failed: {error}",
                        s.container, s.host, s.action
                    );
                }
                Outcome::Skipped { reason } => {
                    let _ = writeln!(
                        out,
                        "skipped: {} on {} ({:?}): {reason}",
                        s.container, s.host, s.action
                    );
                }
                Outcome::Done { .. } => {}
            }
        }
        for ((host, error), (n, refused)) in &whole {
            if *refused {
                let _ = writeln!(
                    out,
                    "error: {host} refused the batch, {n} step(s) not run: {error}"
                );
            } else if !self.lost_hosts.contains_key(*host) {
                let _ = writeln!(out, "error: {host}: {n} step(s) failed: {error}");
            } else {
                let _ = writeln!(
                    out,
                    "error: {host}: {n} step(s) not done with the session lost"
                );
            }
        }
        for r in &self.refused {
            if r.host.is_empty() {
                let _ = writeln!(out, "refused: {}: {}", r.name, r.reason);
            } else {
                let _ = writeln!(out, "refused: {} on {}: {}", r.name, r.host, r.reason);
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let c = &self.counts;
        let verdict = if self.ok() {
            "Apply complete"
        } else {
            "Apply FAILED"
        };
        let _ = writeln!(
            out,
            "{verdict}: {} done ({} changed), {} failed, {} skipped, {} refused, on {} host(s).",
            c.done, c.changed, c.failed, c.skipped, c.refused, self.hosts
        );
        if !self.ok() {
            out.push_str(
                "Run `fleet apply` again once the cause is fixed: it finishes what is left.\n",
            );
        }
        out
    }
}

/// The figures only a live move has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveMoveFigures {
    /// How long the source was frozen for CRIU's dump.
    pub frozen_ms: u64,
    /// How long CRIU's restore took on the target.
    pub restore_ms: u64,
    /// The dump's size, and the bytes of it that crossed the sessions.
    pub checkpoint_bytes: u64,
    /// As `checkpoint_bytes`, sent.
    pub checkpoint_sent_bytes: u64,
    /// The pre-dump rounds made while the container ran, before the freeze.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_dumps: Vec<fleet_protocol::transfer::PreDumpRound>,
    /// The bytes of those rounds that crossed the sessions.
    pub pre_dump_sent_bytes: u64,
    /// Why there were no more pre-dump rounds, or none at all.
    pub pre_dumps_stopped: String,
}

#[cfg(test)]
mod tests {
    use super::{LiveMoveFigures, MoveFigures};

    fn cold() -> MoveFigures {
        MoveFigures {
            container: "web-1".into(),
            from: "a".into(),
            to: "b".into(),
            live: false,
            downtime_ms: 900,
            image_bytes: 1 << 30,
            data_bytes: 1 << 20,
            sent_bytes: 1 << 19,
            live_figures: None,
            made_cold: Some("the target cannot restore it".into()),
        }
    }

    #[test]
    fn a_live_moves_figures_are_keys_of_the_move_itself() {
        assert_eq!(
            serde_json::to_string(&cold()).unwrap(),
            r#"{"container":"web-1","from":"a","to":"b","live":false,"downtime_ms":900,"image_bytes":1073741824,"data_bytes":1048576,"sent_bytes":524288,"made_cold":"the target cannot restore it"}"#
        );
        let live = MoveFigures {
            live: true,
            live_figures: Some(LiveMoveFigures {
                frozen_ms: 40,
                restore_ms: 60,
                checkpoint_bytes: 5000,
                checkpoint_sent_bytes: 2000,
                pre_dumps: Vec::new(),
                pre_dump_sent_bytes: 0,
                pre_dumps_stopped: "the node cannot track dirty memory".into(),
            }),
            made_cold: None,
            ..cold()
        };
        assert_eq!(
            serde_json::to_string(&live).unwrap(),
            r#"{"container":"web-1","from":"a","to":"b","live":true,"downtime_ms":900,"image_bytes":1073741824,"data_bytes":1048576,"sent_bytes":524288,"frozen_ms":40,"restore_ms":60,"checkpoint_bytes":5000,"checkpoint_sent_bytes":2000,"pre_dump_sent_bytes":0,"pre_dumps_stopped":"the node cannot track dirty memory"}"#
        );
    }
}
