//! Why a step of an apply failed, typed: the node failed the action, refused the whole batch,
//! answered out of protocol, a move failed, or the session was lost or never there. The report shows each as
//! its message (the JSON keeps a string), and code can tell them apart (a refused batch keeps
//! its session, a lost one does not).

use serde::{Serialize, Serializer};

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The node ran the action and it failed.
    #[error("{message}")]
    Action {
        /// The node's error.
        message: String,
        /// The change cannot be made live and the request did not allow a restart.
        needs_restart: bool,
    },
    /// The batch failed as a whole; see [`BatchError`].
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A move between hosts failed; the error says where the container is now.
    #[error(transparent)]
    Move(#[from] crate::migrate::error::MoveError),
    /// No session was open with the host (it was not observed, or was lost before this wave).
    #[error("no session with {host}")]
    NoSession {
        /// Host name.
        host: String,
    },
}

/// Why a whole batch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The node refused the batch (most often: another apply holds its lock); the session
    /// stays usable.
    #[error("{0}")]
    Refused(String),
    /// The node answered with another number of results than actions sent.
    #[error("the node answered {got} results for {sent} actions")]
    WrongCount {
        /// Results received.
        got: usize,
        /// Actions sent.
        sent: usize,
    },
    /// The node answered with something other than results.
    #[error("the node answered Apply with {0}")]
    Unexpected(String),
    /// The session broke (the transport's error, as text: the session is gone with it).
    #[error("{0}")]
    Lost(String),
}

impl BatchError {
    /// Whether the session is still usable after this error.
    pub fn keeps_session(&self) -> bool {
        !matches!(self, BatchError::Lost(_))
    }
}

impl Serialize for StepError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
