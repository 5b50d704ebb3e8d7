//! Inits that end on their own, and the restart policy carried out on them.
//!
//! Crash repair records an init that is gone although no verb stopped it (the record says it ran
//! in this boot and no stop was under way) as a pending [`ExitRecord`]. The supervisor
//! (`supervise/`) then calls [`Runtime::supervise_step`] under the container's lock, which fills
//! in how init ended when the supervisor saw it, asks the policy (`RestartSpec::decide`) and,
//! when the back-off's delay has passed, starts the container again. A verb that starts or stops
//! the container drops the pending record, so nothing restarts what an operator stopped.

use std::time::{SystemTime, UNIX_EPOCH};

use fleet_protocol::{Decision, DesiredState, ExitStatus, LastExit};

use super::Runtime;
use crate::error::Result;
use crate::store::{ContainerLock, ExitRecord, State};
use crate::sys::process;

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Records that the init `pid` of `state` is gone, when it ended on its own: it was started in
/// this boot (an init of an earlier boot ended with it) and no stop was under way.
pub(crate) fn note_exit(state: &mut State, pid: i32) {
    let this_boot = state.boot_id.is_some() && state.boot_id == process::boot_id();
    if this_boot && !state.restart.stopping {
        state.restart.exit = Some(ExitRecord {
            pid,
            status: ExitStatus::Unknown,
            at_ms: now_ms(),
            pending: true,
            gave_up: false,
        });
    }
    state.restart.stopping = false;
}

/// Drops a pending exit (a verb started or stopped the container); true when there was one.
pub(crate) fn drop_pending(state: &mut State) -> bool {
    match state.restart.exit.as_mut() {
        Some(exit) if exit.pending => {
            exit.pending = false;
            true
        }
        _ => false,
    }
}

/// The protocol's view of the last exit on its own.
pub(crate) fn last_exit(state: &State) -> Option<LastExit> {
    state.restart.exit.as_ref().map(|e| LastExit {
        status: e.status,
        at: crate::server::lock::utc_text(e.at_ms / 1000),
        gave_up: e.gave_up,
    })
}

/// A container as the supervisor found it after one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supervised {
    /// It no longer exists.
    Gone,
    /// Init runs (just restarted, perhaps): watch it.
    Running {
        /// Host pid of init.
        pid: i32,
    },
    /// Stopped, with nothing for the policy to do.
    Down,
    /// Its init ended on its own and the policy starts it again at `at_ms`.
    RestartAt {
        /// When, in milliseconds since the epoch.
        at_ms: u64,
    },
}

/// What one supervisor step found, and what it did worth a line in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The container's state now.
    pub seen: Supervised,
    /// What happened (`killed by SIGKILL; restarted (restart 2)`), when something did.
    pub note: Option<String>,
}

impl Step {
    fn quiet(seen: Supervised) -> Step {
        Step { seen, note: None }
    }
}

impl Runtime {
    /// One supervisor step on `name` (the caller holds its lock): repair (which records an
    /// init that ended on its own), then, for a pending exit, its status from `status_of` (how
    /// the supervisor saw that pid end) and the policy's decision; a restart whose delay has
    /// passed by `now` happens here. An exit whose status is still unknown less than
    /// `settle_ms` after it was found is looked at again then (the kernel's exit event can
    /// arrive just after the pidfd says the process is gone).
    pub fn supervise_step(
        &self,
        name: &str,
        lock: &ContainerLock,
        status_of: impl Fn(i32) -> Option<ExitStatus>,
        now: u64,
        settle_ms: u64,
    ) -> Result<Step> {
        let Some(found) = self.repair(name, lock)? else {
            return Ok(Step::quiet(Supervised::Gone));
        };
        if let Some(pid) = found.init {
            return Ok(Step::quiet(Supervised::Running { pid }));
        }
        let mut state = found.state;
        let Some(exit) = state.restart.exit.as_mut().filter(|e| e.pending) else {
            return Ok(Step::quiet(Supervised::Down));
        };
        let mut learned = false;
        if exit.status == ExitStatus::Unknown
            && let Some(status) = status_of(exit.pid)
        {
            exit.status = status;
            learned = true;
        }
        if exit.status == ExitStatus::Unknown && now < exit.at_ms.saturating_add(settle_ms) {
            return Ok(Step::quiet(Supervised::RestartAt {
                at_ms: exit.at_ms + settle_ms,
            }));
        }
        let status = exit.status;
        let ran = state.started_at_ms.map(|s| exit.at_ms.saturating_sub(s));
        let policy = found.spec.restart;
        let decision = match found.spec.state {
            DesiredState::Stopped => Decision::Leave,
            DesiredState::Running => policy.decide(&status, ran, state.restart.streak),
        };
        let (delay_ms, streak) = match decision {
            Decision::Leave | Decision::GiveUp => {
                exit.pending = false;
                exit.gave_up = decision == Decision::GiveUp;
                let note = match decision {
                    Decision::GiveUp => format!(
                        "{status}; gave up after {} restarts in a row (restart: {})",
                        state.restart.streak,
                        policy.show()
                    ),
                    _ => format!("{status}; stays stopped (restart: {})", policy.show()),
                };
                self.store.write_state(name, &state)?;
                return Ok(Step {
                    seen: Supervised::Down,
                    note: Some(note),
                });
            }
            Decision::RestartAfter { delay_ms, streak } => (delay_ms, streak),
        };
        let at_ms = exit.at_ms.saturating_add(delay_ms);
        if at_ms > now {
            if learned {
                // Kept for `status` (written only when new: the supervisor watches state.json).
                self.store.write_state(name, &state)?;
            }
            return Ok(Step {
                seen: Supervised::RestartAt { at_ms },
                note: Some(format!(
                    "{status}; restart {} in {:.1} s (restart: {})",
                    state.restart.restarts + 1,
                    (at_ms - now) as f64 / 1000.0,
                    policy.show()
                )),
            });
        }
        exit.pending = false;
        state.restart.restarts += 1;
        state.restart.streak = streak + 1;
        let restarts = state.restart.restarts;
        match self.launch(name, &found.spec, state.clone(), false) {
            Ok(()) => {
                let pid = self
                    .store
                    .read_state(name)?
                    .and_then(|s| s.init_pid)
                    .unwrap_or_default();
                Ok(Step {
                    seen: Supervised::Running { pid },
                    note: Some(format!("{status}; restarted (restart {restarts})")),
                })
            }
            Err(e) => {
                // A start that fails is one more failure in the streak: the next try waits
                // longer, and max_retries counts it.
                state.restart.exit = Some(ExitRecord {
                    pid: 0,
                    status: ExitStatus::Unknown,
                    at_ms: now,
                    pending: true,
                    gave_up: false,
                });
                state.started_at_ms = Some(now);
                self.store.write_state(name, &state)?;
                let next = policy.decide(&ExitStatus::Unknown, Some(0), state.restart.streak);
                Ok(Step {
                    seen: match next {
                        Decision::RestartAfter { delay_ms, .. } => Supervised::RestartAt {
                            at_ms: now + delay_ms,
                        },
                        _ => Supervised::RestartAt { at_ms: now },
                    },
                    note: Some(format!("restart {restarts} failed: {e}")),
                })
            }
        }
    }
}
