//! One snapshot or clone operation sent to the node that holds the container
//! (`Request::Snapshot`, answered by `node-runtime/src/server/snapshots.rs`), for `fleet
//! snapshot` and `fleet clone`. The node does the copy and every check on its own data (a tag
//! that exists, a name taken there, the kind of disk); what it refuses comes back as its words.

use fleet_protocol::snapshot::{SnapshotOp, SnapshotReply, SnapshotRequest};
use fleet_protocol::{Request, Response};

use crate::transport::{NodeSession, TransportError};

/// Why an operation failed; the node's refusals changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The node refused or failed it.
    #[error("{host}: {message}")]
    Node {
        /// The host.
        host: String,
        /// The node's reason.
        message: String,
    },
    /// The session failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The node answered something else (another version of the protocol).
    #[error("{host}: unexpected answer to a snapshot request: {answer}")]
    Unexpected {
        /// The host.
        host: String,
        /// What it said.
        answer: String,
    },
}

/// Who asks, for the node's apply lock.
#[derive(Debug, Clone)]
pub struct Asker {
    /// The fleet.
    pub fleet: String,
    /// `user@host` of the orchestrator.
    pub user: String,
    /// Seconds to wait for the apply lock.
    pub lock_timeout_secs: u32,
}

/// Sends `op` to `host`'s node over `session` and returns its answer.
pub async fn ask(
    session: &mut impl NodeSession,
    host: &str,
    asker: &Asker,
    op: SnapshotOp,
) -> Result<SnapshotReply, SnapshotError> {
    let request = Request::Snapshot(SnapshotRequest {
        fleet: asker.fleet.clone(),
        op,
        lock_timeout_secs: asker.lock_timeout_secs,
        user: asker.user.clone(),
    });
    match session.call(request).await? {
        Response::Snapshot(reply) => Ok(reply),
        Response::Error { message } => Err(SnapshotError::Node {
            host: host.to_owned(),
            message,
        }),
        other => Err(SnapshotError::Unexpected {
            host: host.to_owned(),
            answer: format!("{other:?}"),
        }),
    }
}
