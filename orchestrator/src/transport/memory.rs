//! An in-memory node for unit tests: containers in a map, each [`Action`] applied as the real
//! node would (idempotent creates and destroys, a start of a missing container fails), with
//! scripted faults: fail one container's actions, refuse every batch (a held apply lock), or
//! break the session at a given call. It records each batch it was sent, so tests can check
//! waves and order, skips an action whose prerequisite in the batch failed, and reports each
//! action as it finishes when asked, like the real node.
//! It also plays both ends of a move (`memory_transfer.rs` beside it): a container's disk is
//! a string that travels in chunks, with scripted faults of its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use fleet_protocol::{
    Action, ActionOutcome, ActionResult, ContainerSpec, ContainerState, ContainerStatus,
    DesiredState, Request, Response,
};

use super::frame::FrameError;
use super::{NodeSession, OnProgress, TransportError};

/// One container on the in-memory node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Its spec.
    pub spec: ContainerSpec,
    /// Whether init "runs".
    pub running: bool,
    /// What its disk holds.
    pub disk: String,
    /// Stopped for a move to this host that has not ended: (host, whether it ran before).
    pub moving_to: Option<(String, bool)>,
}

/// The node's state, shared between the session handed to apply and the test.
#[derive(Debug, Default)]
pub struct State {
    /// Containers by name.
    pub containers: BTreeMap<String, Held>,
    /// Every Apply batch received: its containers' names with the action kind.
    pub batches: Vec<Vec<String>>,
    /// Actions on these containers fail with this message.
    pub failing: BTreeMap<String, String>,
    /// Every Apply batch is refused as a whole with this message (a held lock).
    pub refuse: Option<String>,
    /// The session breaks at this call (0-based, counting every call).
    pub break_at: Option<usize>,
    /// Move requests received, in order (`import-begin web-1`, `export-read web-1`, ...).
    pub moves: Vec<String>,
    /// Imports are refused with this message (no room, say).
    pub refuse_import: Option<String>,
    /// The import's chunk with this index (0-based) fails with "no space left on device".
    pub full_at_chunk: Option<usize>,
    pub(super) exports: BTreeMap<String, usize>,
    /// Imports under way: name -> (spec, what arrived).
    pub imports: BTreeMap<String, (ContainerSpec, String)>,
    calls: usize,
}

/// A session with an in-memory node.
#[derive(Debug, Clone)]
pub struct MemoryNode {
    /// Host name.
    pub host: String,
    /// Its state.
    pub state: Arc<Mutex<State>>,
}

impl MemoryNode {
    /// An empty node named `host`.
    pub fn new(host: &str) -> Self {
        MemoryNode {
            host: host.to_owned(),
            state: Arc::default(),
        }
    }

    /// What a `List` would report: every container, running or stopped, with its move mark.
    pub fn list(&self) -> Vec<ContainerStatus> {
        let state = self.state();
        state
            .containers
            .values()
            .map(|h| ContainerStatus {
                name: h.spec.name.clone(),
                fleet: h.spec.fleet.clone(),
                state: match h.running {
                    true => ContainerState::Running,
                    false => ContainerState::Stopped,
                },
                init_pid: h.running.then_some(100),
                spec: h.spec.clone(),
                live: h.spec.resources.clone(),
                usage: None,
                restarts: 0,
                last_exit: None,
                moving_to: h.moving_to.as_ref().map(|(to, _)| to.clone()),
                moving_live: false,
            })
            .collect()
    }

    /// The node's state, to script faults or read what happened.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("no test panicked holding the state")
    }
}

impl State {
    fn act(&mut self, action: &Action) -> Result<bool, String> {
        if let Some(message) = self.failing.get(action.container()) {
            return Err(message.clone());
        }
        let missing = |name: &str| format!("container {name:?} not found");
        match action {
            Action::Create { spec } => {
                if self
                    .containers
                    .get(&spec.name)
                    .is_some_and(|h| h.spec == *spec)
                {
                    return Ok(false);
                }
                let running = spec.state == DesiredState::Running;
                let held = Held {
                    spec: spec.clone(),
                    running,
                    disk: String::new(),
                    moving_to: None,
                };
                self.containers.insert(spec.name.clone(), held);
                Ok(true)
            }
            Action::Start { name } => {
                let held = self.containers.get_mut(name).ok_or_else(|| missing(name))?;
                Ok(!std::mem::replace(&mut held.running, true))
            }
            Action::Stop { name, .. } => {
                let held = self.containers.get_mut(name).ok_or_else(|| missing(name))?;
                Ok(std::mem::replace(&mut held.running, false))
            }
            Action::Update { spec, .. } => {
                let held = self
                    .containers
                    .get_mut(&spec.name)
                    .ok_or_else(|| missing(&spec.name))?;
                let changed = held.spec != *spec;
                held.spec = spec.clone();
                Ok(changed)
            }
            Action::Destroy { name } => Ok(self.containers.remove(name).is_some()),
        }
    }
}

fn kind(action: &Action) -> &'static str {
    match action {
        Action::Create { .. } => "create",
        Action::Start { .. } => "start",
        Action::Stop { .. } => "stop",
        Action::Update { .. } => "update",
        Action::Destroy { .. } => "destroy",
    }
}

impl NodeSession for MemoryNode {
    async fn call(&mut self, request: Request) -> Result<Response, TransportError> {
        self.call_with_progress(request, &|_, _| {}).await
    }

    /// Runs an `Apply` as the real node does: in order, an action whose prerequisite in the
    /// batch (`after`) did not succeed is not run, and each result is reported to `progress`
    /// as it is made when the request asked for it.
    async fn call_with_progress(
        &mut self,
        request: Request,
        progress: &OnProgress<'_>,
    ) -> Result<Response, TransportError> {
        let mut state = self.state();
        let call = state.calls;
        state.calls += 1;
        if state.break_at.is_some_and(|at| call >= at) {
            return Err(TransportError::Wire {
                host: self.host.clone(),
                source: FrameError::Closed {
                    stderr: "killed".into(),
                },
            });
        }
        match request {
            Request::Apply {
                actions,
                after,
                progress: wants_progress,
                ..
            } => {
                state.batches.push(
                    actions
                        .iter()
                        .map(|a| format!("{} {}", kind(a), a.container()))
                        .collect(),
                );
                if let Some(message) = state.refuse.clone() {
                    return Ok(Response::Error { message });
                }
                let mut results: Vec<ActionResult> = Vec::with_capacity(actions.len());
                for (i, a) in actions.iter().enumerate() {
                    let unmet = after
                        .get(i)
                        .into_iter()
                        .flatten()
                        .filter_map(|&j| results.get(j as usize))
                        .find(|r| !matches!(r.outcome, ActionOutcome::Done { .. }));
                    let outcome = match unmet {
                        Some(needed) => ActionOutcome::Failed {
                            error: format!("not run: {} did not succeed", needed.container),
                            needs_restart: false,
                        },
                        None => match state.act(a) {
                            Ok(changed) => ActionOutcome::Done { changed },
                            Err(error) => ActionOutcome::Failed {
                                error,
                                needs_restart: false,
                            },
                        },
                    };
                    let result = ActionResult {
                        container: a.container().to_owned(),
                        outcome,
                    };
                    if wants_progress {
                        progress(i as u32, &result);
                    }
                    results.push(result);
                }
                Ok(Response::Applied { results })
            }
            other => Ok(state.transfer(other)),
        }
    }
}
