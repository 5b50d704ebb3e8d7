//! One `Apply` batch on the node: its actions run in order under the apply lock and the journal,
//! each skipped when an earlier action of the batch it needs did not succeed (a container's
//! dependency on the same host), one result per action.
//!
//! The server drives it action by action ([`Run::next`]) so that it can report each result as it
//! comes (`Response::Progress`) before the answer.

use fleet_protocol::{Action, ActionOutcome, ActionResult, LockHolder};

use super::{journal, lock};
use crate::container::Runtime;
use crate::error::Error;

/// A batch as the client sent it.
#[derive(Debug)]
pub struct Batch {
    /// Who runs it (the apply lock's holder record).
    pub holder: LockHolder,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Per action, the earlier actions that must have succeeded (may be shorter than actions).
    pub after: Vec<Vec<u32>>,
    /// Seconds to wait for the apply lock.
    pub lock_timeout_secs: u32,
    /// Whether the client wants a progress frame per action.
    pub progress: bool,
}

/// A batch being run: results so far and the live journal.
#[derive(Debug)]
pub struct Run {
    results: Vec<ActionResult>,
    journal: journal::Running,
}

impl Run {
    /// Takes the node's apply lock unless the session holds it already (it keeps it until the
    /// session ends, so that the waves of one apply are not interleaved with another's), then
    /// journals the batch so that one cut off midway is reported by the next hello.
    pub fn begin(
        runtime: &Runtime,
        held: &mut Option<lock::ApplyLock>,
        batch: &Batch,
    ) -> Result<Run, String> {
        let root = runtime.store.root();
        if held.is_none() {
            let timeout = std::time::Duration::from_secs(u64::from(batch.lock_timeout_secs));
            *held = Some(lock::acquire(root, &batch.holder, timeout).map_err(|e| e.to_string())?);
        }
        let journal =
            journal::Running::begin(root, &batch.holder, &batch.actions).map_err(|e| {
                format!(
                    "failed to write the apply journal {}: {e}",
                    journal::path(root).display()
                )
            })?;
        Ok(Run {
            results: Vec::with_capacity(batch.actions.len()),
            journal,
        })
    }

    /// Runs the next action (or skips it, when an action it needs did not succeed); `None` once
    /// every action has its result.
    pub fn next(&mut self, runtime: &Runtime, batch: &Batch) -> Option<(u32, ActionResult)> {
        let index = self.results.len();
        let action = batch.actions.get(index)?;
        let unmet = batch
            .after
            .get(index)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.results.get(i as usize))
            .find(|r| !matches!(r.outcome, ActionOutcome::Done { .. }));
        let result = match unmet {
            Some(needed) => ActionResult {
                container: action.container().to_owned(),
                outcome: ActionOutcome::Failed {
                    error: format!("not run: {} did not succeed", needed.container),
                    needs_restart: false,
                },
            },
            None => apply_one(runtime, action),
        };
        self.results.push(result.clone());
        self.journal.advance(self.results.len());
        Some((index as u32, result))
    }

    /// The results, one per action in order; the journal is removed.
    pub fn finish(self) -> Vec<ActionResult> {
        self.results
    }
}

/// Runs one action; an error becomes a `Failed` result and the batch goes on.
pub fn apply_one(runtime: &Runtime, action: &Action) -> ActionResult {
    let result = match action {
        Action::Create { spec } => runtime.create(spec),
        // A start after a cut-off move rolls it back (a live one's dump restored).
        Action::Start { name } => crate::transfer::start(runtime, name),
        Action::Stop { name, timeout_secs } => runtime.stop(
            name,
            std::time::Duration::from_secs(u64::from(*timeout_secs)),
        ),
        Action::Update {
            spec,
            allow_restart,
        } => runtime.update(spec, *allow_restart),
        Action::Destroy { name } => runtime.destroy(name),
    };
    ActionResult {
        container: action.container().to_owned(),
        outcome: match result {
            Ok(changed) => ActionOutcome::Done { changed },
            Err(e) => ActionOutcome::Failed {
                needs_restart: matches!(e, Error::NeedsRestart { .. }),
                error: e.to_string(),
            },
        },
    }
}
