//! What a batch asks of a node, container by container ([`Action`]), and what each action did
//! ([`ActionResult`]); `message.rs` carries them in `Request::Apply` and `Response::Applied`
//! and re-exports them.

use serde::{Deserialize, Serialize};

use crate::container::ContainerSpec;

/// One step on one container. Every action is idempotent: repeating it after a cut-off run
/// finishes the job rather than failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create the container (and start it if its spec says running).
    Create {
        /// Full desired spec.
        spec: ContainerSpec,
    },
    /// Start init.
    Start {
        /// Container name.
        name: String,
    },
    /// Stop init (SIGTERM, then kill the cgroup after the timeout).
    Stop {
        /// Container name.
        name: String,
        /// Seconds to wait after SIGTERM.
        timeout_secs: u32,
    },
    /// Change a container to a new spec; live where possible.
    Update {
        /// Full desired spec.
        spec: ContainerSpec,
        /// Whether changes that need a restart may restart the container.
        allow_restart: bool,
    },
    /// Stop and remove the container with everything it holds.
    Destroy {
        /// Container name.
        name: String,
    },
}

impl Action {
    /// Name of the container the action is about.
    pub fn container(&self) -> &str {
        match self {
            Action::Create { spec } | Action::Update { spec, .. } => &spec.name,
            Action::Start { name } | Action::Stop { name, .. } | Action::Destroy { name } => name,
        }
    }
}

/// Result of one [`Action`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Container name.
    pub container: String,
    /// What happened.
    pub outcome: ActionOutcome,
}

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActionOutcome {
    /// Done; `changed` is false when the container already matched.
    Done {
        /// Whether anything was changed.
        changed: bool,
    },
    /// Not done; the container is as it was before the action, or in a state the next run
    /// finishes.
    Failed {
        /// What went wrong.
        error: String,
        /// The change cannot be made live and the request did not allow a restart.
        #[serde(default)]
        needs_restart: bool,
    },
}
