//! Why a move failed, and where the container is after it: a move that fails before the target
//! made the container leaves it on the source (running again if it ran), one that fails after
//! only leaves the source's copy for the next apply to remove.

/// Why a move failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// A node refused a step of the move or answered out of protocol; `stays` says where the
    /// container is.
    #[error("{host} {what}: {message}; {stays}")]
    Node {
        /// Host that failed.
        host: String,
        /// What it was asked (`refused to send the image`).
        what: &'static str,
        /// Its error.
        message: String,
        /// Where the container is now.
        stays: String,
    },
    /// A session broke midway.
    #[error("lost the session with {host} during the move: {message}; {stays}")]
    Lost {
        /// Host whose session broke.
        host: String,
        /// The transport's error.
        message: String,
        /// Where the container is now.
        stays: String,
    },
    /// No session with one of the two hosts.
    #[error("no session with {host}")]
    NoSession {
        /// Host name.
        host: String,
    },
}

impl MoveError {
    /// Whether the session with `host` is still usable after this error.
    pub fn loses(&self, host: &str) -> bool {
        matches!(self, MoveError::Lost { host: h, .. } if h == host)
    }
}
