//! Apply: executes a [`Plan`] over the sessions `observe` opened, wave by wave; in each wave every
//! host gets its batch as one `Request::Apply` (one round trip), hosts in parallel up to
//! `--parallel`.
//!
//! A step runs only if every step it waits for succeeded; otherwise it is skipped and says which
//! one failed. A dependency on the same host goes in the same batch, ahead of its dependants, and
//! the node skips them if it fails (`batch`). A host whose session breaks fails the rest of its
//! batch and is not sent anything more this run: the node's actions are idempotent, so the next `apply` observes what was done
//! and finishes the job. Progress goes to [`progress`], the outcome to a [`report::Report`].

mod batch;
pub mod error;
pub mod journal;
pub(crate) mod moves;
pub mod progress;
pub mod report;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use fleet_protocol::ActionOutcome;
use futures_util::StreamExt;

use crate::plan::{Plan, StepKind};
use crate::transport::NodeSession;
use batch::Sent;
use error::StepError;
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
    let mut move_notes: Vec<String> = Vec::new();
    let mut move_figures = Vec::new();
    for wave in 0..plan.waves() {
        let mut sends = Vec::new();
        let mut moves: Vec<usize> = Vec::new();
        for batch in plan.batches.iter().filter(|b| b.wave == wave) {
            let mut sent = Sent::new(&batch.host);
            for &id in &batch.steps {
                let step = &plan.steps[id];
                if let Some(reason) = lost.get(&batch.host) {
                    outcome[id] = Some(Outcome::Skipped {
                        reason: format!("session with {} lost earlier: {reason}", batch.host),
                    });
                    progress.step_finished(&batch.host, &step.change.name, false);
                    continue;
                }
                // A dependency sent earlier in this same batch is done before this step starts
                // (the node runs a batch in order), and the node skips this step if it failed.
                let failed_dep = step.after.iter().find(|&&d| {
                    !matches!(outcome[d], Some(Outcome::Done { .. })) && sent.find(d).is_none()
                });
                if let Some(&d) = failed_dep {
                    outcome[id] = Some(skipped_for(plan, d));
                    progress.step_finished(&batch.host, &step.change.name, false);
                    continue;
                }
                if step.kind == StepKind::Move {
                    moves.push(id);
                    continue;
                }
                let needs: Vec<u32> = step
                    .after
                    .iter()
                    .filter_map(|&d| sent.find(d))
                    .flat_map(|range| range.clone())
                    .map(|a| a as u32)
                    .collect();
                sent.push(id, &step.change.name, &step.actions, needs);
            }
            if sent.steps.is_empty() {
                continue;
            }
            match sessions.remove(&batch.host) {
                Some(client) => sends.push((sent, client)),
                None => {
                    for ((id, _), name) in sent.steps.iter().zip(&sent.names) {
                        outcome[*id] = Some(Outcome::Failed {
                            error: StepError::NoSession {
                                host: batch.host.clone(),
                            },
                        });
                        progress.step_finished(&batch.host, name, false);
                    }
                }
            }
        }
        let mut running = futures_util::stream::iter(
            sends
                .into_iter()
                .map(|(sent, client)| batch::send(fleet, sent, client, &opts, progress)),
        )
        .buffer_unordered(opts.parallel.max(1));
        while let Some(answer) = running.next().await {
            let batch::Answer {
                sent,
                client,
                result,
                shown,
            } = answer;
            match result {
                Ok(results) => {
                    for (((id, range), shown), name) in
                        sent.steps.iter().zip(shown).zip(&sent.names)
                    {
                        outcome[*id] = Some(step_outcome(
                            plan,
                            *id,
                            &results[range.clone()],
                            &sent,
                            &outcome,
                        ));
                        if !shown {
                            let ok = matches!(outcome[*id], Some(Outcome::Done { .. }));
                            progress.step_finished(&sent.host, name, ok);
                        }
                    }
                }
                Err(error) => {
                    // The report says a batch refused as a whole once per host (`Report::text`).
                    for (((id, _), shown), name) in sent.steps.iter().zip(shown).zip(&sent.names) {
                        outcome[*id] = Some(Outcome::Failed {
                            error: error.clone().into(),
                        });
                        if !shown {
                            progress.step_finished(&sent.host, name, false);
                        }
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
        drop(running);
        // Moves run after the wave's batches (the plan puts whatever depends on a move, or
        // that it depends on, in another wave), one at a time.
        for id in moves {
            let step = &plan.steps[id];
            let from = step.change.from.as_deref().unwrap_or_default();
            if let Some(reason) = lost.get(from) {
                outcome[id] = Some(Outcome::Skipped {
                    reason: format!("session with {from} lost earlier: {reason}"),
                });
                progress.step_finished(&step.change.host, &step.change.name, false);
                continue;
            }
            let (result, lost_hosts) = moves::run(fleet, step, sessions, &opts).await;
            for (host, why) in lost_hosts {
                lost.insert(host, why);
            }
            let ok = result.is_ok();
            outcome[id] = Some(match result {
                Ok(moved) => {
                    move_notes.push(moves::note(step, &moved));
                    move_figures.push(moves::figures(step, &moved));
                    Outcome::Done { changed: true }
                }
                Err(error) => Outcome::Failed {
                    error: StepError::Move(error),
                },
            });
            progress.step_finished(&step.change.host, &step.change.name, ok);
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
    report.notes.extend(move_notes);
    report.moves = move_figures;
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

/// A step skipped because step `dep` did not succeed.
fn skipped_for(plan: &Plan, dep: usize) -> Outcome {
    let dep = &plan.steps[dep].change;
    Outcome::Skipped {
        reason: format!("{} on {} did not succeed", dep.name, dep.host),
    }
}

/// Step `id`'s outcome from its actions' results: failed with the first failure, done
/// otherwise; skipped when a step it needed earlier in the same batch did not succeed (the node
/// did not run it).
fn step_outcome(
    plan: &Plan,
    id: usize,
    results: &[ActionOutcome],
    sent: &batch::Sent,
    outcome: &[Option<Outcome>],
) -> Outcome {
    let failed = results.iter().find_map(|r| match r {
        ActionOutcome::Failed {
            error,
            needs_restart,
        } => Some(StepError::Action {
            message: error.clone(),
            needs_restart: *needs_restart,
        }),
        ActionOutcome::Done { .. } => None,
    });
    let Some(error) = failed else {
        let changed = results
            .iter()
            .any(|r| matches!(r, ActionOutcome::Done { changed: true }));
        return Outcome::Done { changed };
    };
    let unmet = plan.steps[id]
        .after
        .iter()
        .find(|&&d| sent.find(d).is_some() && !matches!(outcome[d], Some(Outcome::Done { .. })));
    match unmet {
        Some(&d) => skipped_for(plan, d),
        None => Outcome::Failed { error },
    }
}
