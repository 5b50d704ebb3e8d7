//! What both halves of a move say over the sessions: the step itself, the relay of one of the
//! source's streams into the target (the disk image, a dump, a pre-dump round: the bytes pass
//! through and are never decoded), and the answers each request expects, a refusal or a lost
//! session turned into a [`MoveError`] that says where the container is. `drive.rs` (the move)
//! and `pre_dump.rs` (its rounds before the export) both speak through it.

use fleet_protocol::{ContainerSpec, Request, Response};

use super::error::MoveError;
use crate::transport::NodeSession;

/// One move to make.
#[derive(Debug, Clone, Copy)]
pub struct MoveStep<'a> {
    /// Fleet on whose behalf it runs (for the nodes' apply locks).
    pub fleet: &'a str,
    /// Host it leaves.
    pub from: &'a str,
    /// Host it goes to.
    pub to: &'a str,
    /// The spec it gets on the target.
    pub spec: &'a ContainerSpec,
    /// Seconds each node waits for its apply lock.
    pub lock_timeout_secs: u32,
    /// Who runs the apply.
    pub user: &'a str,
    /// Checkpoint and restore rather than stop and start (the plan found both nodes able).
    pub live: bool,
}

/// Which of the source's streams a relay carries.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stream {
    /// The disk image (`ExportRead` -> `ImportChunk`).
    Image,
    /// A live move's dump (`CheckpointRead` -> `ImportCheckpoint`).
    Checkpoint,
}

/// What one stream's relay measured, and the source's checksum at its end.
pub(super) struct Relayed {
    pub(super) logical: u64,
    pub(super) sent: u64,
    pub(super) chunks: u64,
    pub(super) digest: String,
}

/// Relays one stream from the source to the target, chunk by chunk, until the source's
/// checksum ends it.
pub(super) async fn relay<S: NodeSession>(
    step: MoveStep<'_>,
    stream: Stream,
    source: &mut S,
    target: &mut S,
    pending: &str,
) -> Result<Relayed, MoveError> {
    let name = &step.spec.name;
    let (from, to) = (step.from, step.to);
    let mut relayed = Relayed {
        logical: 0,
        sent: 0,
        chunks: 0,
        digest: String::new(),
    };
    // Raw bytes after the JSON rather than base64 inside it, when the target reads them (the
    // source ignores the ask if it is older and sends base64, which the target reads too).
    let raw = target.reads_raw_chunks();
    loop {
        let read = match stream {
            Stream::Image => Request::ExportRead {
                name: name.clone(),
                raw,
            },
            Stream::Checkpoint => Request::CheckpointRead {
                name: name.clone(),
                raw,
            },
        };
        match call(source, from, read, pending).await? {
            Response::ExportData {
                chunk: Some(chunk), ..
            } => {
                relayed.logical += u64::from(chunk.len);
                relayed.sent += chunk.wire_len();
                relayed.chunks += 1;
                let (write, what) = match stream {
                    Stream::Image => (
                        Request::ImportChunk {
                            name: name.clone(),
                            chunk,
                        },
                        "failed to write the image",
                    ),
                    Stream::Checkpoint => (
                        Request::ImportCheckpoint {
                            name: name.clone(),
                            chunk,
                        },
                        "failed to write the checkpoint",
                    ),
                };
                expect_moved(target, to, what, write, pending).await?;
            }
            Response::ExportData {
                chunk: None,
                digest: Some(digest),
            } => {
                relayed.digest = digest;
                return Ok(relayed);
            }
            other => return Err(unexpected(from, "answered a read", other, pending)),
        }
    }
}

/// Sends `request`; a transport error is a lost session, an error answer the node's refusal.
pub(super) async fn call<S: NodeSession>(
    session: &mut S,
    host: &str,
    request: Request,
    stays: &str,
) -> Result<Response, MoveError> {
    let what = match &request {
        Request::ExportBegin { live: false, .. } => "refused to give up the container",
        Request::ExportBegin { live: true, .. } => "could not checkpoint the container",
        Request::ExportRead { .. } => "failed to read the image",
        Request::CheckpointRead { .. } => "failed to read the checkpoint",
        _ => "refused the move",
    };
    match session.call(request).await {
        Ok(Response::Error { message }) => Err(MoveError::Node {
            host: host.to_owned(),
            what,
            message,
            stays: stays.to_owned(),
        }),
        Ok(response) => Ok(response),
        Err(e) => Err(MoveError::Lost {
            host: host.to_owned(),
            message: e.to_string(),
            stays: stays.to_owned(),
        }),
    }
}

pub(super) async fn expect_moved<S: NodeSession>(
    session: &mut S,
    host: &str,
    what: &'static str,
    request: Request,
    stays: &str,
) -> Result<(), MoveError> {
    match session.call(request).await {
        Ok(Response::Moved { .. }) => Ok(()),
        Ok(Response::Error { message }) => Err(MoveError::Node {
            host: host.to_owned(),
            what,
            message,
            stays: stays.to_owned(),
        }),
        Ok(other) => Err(unexpected(host, what, other, stays)),
        Err(e) => Err(MoveError::Lost {
            host: host.to_owned(),
            message: e.to_string(),
            stays: stays.to_owned(),
        }),
    }
}

pub(super) fn unexpected(
    host: &str,
    what: &'static str,
    other: Response,
    stays: &str,
) -> MoveError {
    MoveError::Node {
        host: host.to_owned(),
        what,
        message: format!(
            "out of protocol: {other:?} (is fleet-node older than fleet? run `fleet bootstrap`)"
        ),
        stays: stays.to_owned(),
    }
}
