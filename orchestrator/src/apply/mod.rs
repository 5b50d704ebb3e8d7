//! Apply: executes a [`Plan`] over the sessions `observe` opened, wave by wave; in each wave every
//! host gets its batch as one `Request::Apply` (one round trip), hosts in parallel up to
//! `--parallel`.
//!
//! A step runs only if every step it waits for succeeded (or is earlier in the same host's batch,
//! which the node runs in order); otherwise it is skipped and says which one failed. A host whose session breaks fails the rest of its batch and is not sent anything
//! more this run: the node's actions are idempotent, so the next `apply` observes what was done
//! and finishes the job. Progress goes to [`progress`], the outcome to a [`report::Report`].

pub mod error;
pub mod journal;
pub mod progress;
pub mod report;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use fleet_protocol::{Action, ActionOutcome, Request, Response};
use futures_util::StreamExt;

use crate::plan::{Plan, StepKind};
use crate::transport::NodeSession;
use error::{BatchError, StepError};
use progress::Progress;
use report::{Outcome, Report, StepReport};

/// Knobs of [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Hosts worked on at once.
    pub parallel: usize,
    /// Seconds each node waits for its apply lock when another apply holds it (0: fail fast).
    pub lock_timeout_secs: u32,
    /// Who runs this apply, for the lock's holder record ([`journal::local_user`]).
    pub user: String,
}

/// One host's batch as sent: the actions, and which of them belong to which step.
struct Sent {
    host: String,
    steps: Vec<(usize, Range<usize>)>,
    actions: Vec<Action>,
}

/// Executes `plan` for fleet `fleet` with the open `sessions` (by host name; `observe::Sessions`
/// in the CLI, in-memory nodes in tests).
pub async fn apply<S: NodeSession>(
    fleet: &str,
    plan: &Plan,
    sessions: &mut BTreeMap<String, S>,
    opts: ApplyOptions,
    progress: &Progress,
) -> Report {
    let mut outcome: Vec<Option<Outcome>> = vec![None; plan.steps.len()];
    let mut lost: BTreeMap<String, String> = BTreeMap::new();
    let mut refused: Vec<String> = Vec::new();
    for wave in 0..plan.waves() {
        let mut sends = Vec::new();
        for batch in plan.batches.iter().filter(|b| b.wave == wave) {
            let mut sent = Sent {
                host: batch.host.clone(),
                steps: Vec::new(),
                actions: Vec::new(),
            };
            for &id in &batch.steps {
                let step = &plan.steps[id];
                if let Some(reason) = lost.get(&batch.host) {
                    outcome[id] = Some(Outcome::Skipped {
                        reason: format!("session with {} lost earlier: {reason}", batch.host),
                    });
                    progress.step_finished(&batch.host, false);
                    continue;
                }
                // A dependency sent earlier in this same batch counts as met: the node runs
                // a batch in order, so it is done before this step starts.
                let failed_dep = step.after.iter().find(|&&d| {
                    !matches!(outcome[d], Some(Outcome::Done { .. }))
                        && !sent.steps.iter().any(|(id, _)| *id == d)
                });
                if let Some(&d) = failed_dep {
                    let dep = &plan.steps[d].change;
                    outcome[id] = Some(Outcome::Skipped {
                        reason: format!("{} on {} did not succeed", dep.name, dep.host),
                    });
                    progress.step_finished(&batch.host, false);
                    continue;
                }
                let start = sent.actions.len();
                sent.actions.extend(step.actions.iter().cloned());
                sent.steps.push((id, start..sent.actions.len()));
            }
            if sent.steps.is_empty() {
                continue;
            }
            match sessions.remove(&batch.host) {
                Some(client) => sends.push((sent, client)),
                None => {
                    for (id, _) in sent.steps {
                        outcome[id] = Some(Outcome::Failed {
                            error: StepError::NoSession {
                                host: batch.host.clone(),
                            },
                        });
                        progress.step_finished(&batch.host, false);
                    }
                }
            }
        }
        let mut running = futures_util::stream::iter(
            sends
                .into_iter()
                .map(|(sent, client)| send_batch(fleet, sent, client, &opts, progress)),
        )
        .buffer_unordered(opts.parallel.max(1));
        while let Some((sent, client, result)) = running.next().await {
            match result {
                Ok(results) => {
                    for (id, range) in &sent.steps {
                        let failed = results[range.clone()].iter().find_map(|r| match r {
                            ActionOutcome::Failed {
                                error,
                                needs_restart,
                            } => Some(StepError::Action {
                                message: error.clone(),
                                needs_restart: *needs_restart,
                            }),
                            ActionOutcome::Done { .. } => None,
                        });
                        let changed = results[range.clone()]
                            .iter()
                            .any(|r| matches!(r, ActionOutcome::Done { changed: true }));
                        let ok = failed.is_none();
                        outcome[*id] = Some(match failed {
                            Some(error) => Outcome::Failed { error },
                            None => Outcome::Done { changed },
                        });
                        progress.step_finished(&sent.host, ok);
                    }
                }
                Err(error) => {
                    // One line per host for a batch refused as a whole (the apply lock is held,
                    // most often): the steps repeat the error, this names the host once.
                    if error.keeps_session() {
                        refused.push(format!("{} refused the batch: {error}", sent.host));
                    }
                    for (id, _) in &sent.steps {
                        outcome[*id] = Some(Outcome::Failed {
                            error: error.clone().into(),
                        });
                        progress.step_finished(&sent.host, false);
                    }
                    // A node that refused the batch keeps its session; only a broken one is
                    // lost for the rest of the run.
                    if !error.keeps_session() {
                        lost.insert(sent.host.clone(), error.to_string());
                    }
                }
            }
            if let Some(client) = client {
                sessions.insert(sent.host.clone(), client);
            }
        }
    }
    let steps = plan
        .steps
        .iter()
        .zip(outcome)
        .map(|(s, o)| StepReport {
            host: s.change.host.clone(),
            container: s.change.name.clone(),
            action: s.kind,
            outcome: o.unwrap_or(Outcome::Skipped {
                reason: "not reached".into(),
            }),
        })
        .collect();
    let hosts: BTreeSet<String> = plan.batches.iter().map(|b| b.host.clone()).collect();
    let mut report = Report::new(fleet, steps, lost, hosts.len());
    report.notes.extend(refused);
    // An update the node calls a no-op although fields differed means the drift is still there
    // (a node that compares the stored spec rather than the live values): say so.
    let unchanged: Vec<String> = report
        .steps
        .iter()
        .zip(&plan.steps)
        .filter(|(r, s)| {
            matches!(s.kind, StepKind::UpdateLive | StepKind::UpdateRestart)
                && !s.change.fields.is_empty()
                && r.outcome == Outcome::Done { changed: false }
        })
        .map(|(r, _)| format!("{} on {}", r.container, r.host))
        .collect();
    if !unchanged.is_empty() {
        report.notes.push(format!(
            "the node changed nothing for {} update(s) whose live values differed from the spec, \
             so that drift remains: {}",
            unchanged.len(),
            unchanged.join(", ")
        ));
    }
    report
}

/// Sends one batch; returns the session unless it broke (then the error is
/// [`BatchError::Lost`]).
async fn send_batch<S: NodeSession>(
    fleet: &str,
    sent: Sent,
    mut client: S,
    opts: &ApplyOptions,
    progress: &Progress,
) -> (Sent, Option<S>, Result<Vec<ActionOutcome>, BatchError>) {
    progress.batch_started(&sent.host, sent.steps.len());
    let request = Request::Apply {
        fleet: fleet.to_string(),
        actions: sent.actions.clone(),
        lock_timeout_secs: opts.lock_timeout_secs,
        user: opts.user.clone(),
    };
    match client.call(request).await {
        Ok(Response::Applied { results }) if results.len() == sent.actions.len() => {
            let outcomes = results.into_iter().map(|r| r.outcome).collect();
            (sent, Some(client), Ok(outcomes))
        }
        Ok(Response::Applied { results }) => {
            let error = BatchError::WrongCount {
                got: results.len(),
                sent: sent.actions.len(),
            };
            (sent, Some(client), Err(error))
        }
        Ok(Response::Error { message }) => (sent, Some(client), Err(BatchError::Refused(message))),
        Ok(other) => {
            let error = BatchError::Unexpected(format!("{other:?}"));
            (sent, Some(client), Err(error))
        }
        Err(e) => (sent, None, Err(BatchError::Lost(e.to_string()))),
    }
}
