//! A cold move over two open sessions: the source stops the container and opens its disk image
//! (`ExportBegin`), the target gets ready (`ImportBegin`), the image goes across chunk by chunk
//! (`ExportRead` from the source, `ImportChunk` to the target: the bytes pass through here and
//! are never decoded), the target verifies the checksum and makes and starts the container
//! (`ImportCommit`), and only then the source destroys its copy (`ExportFinish`).
//!
//! On a failure before the commit the target drops what it received and the source starts the
//! container again (`ImportAbort`, `ExportAbort`). When the target's session breaks while it
//! commits, whether it made the container is unknown: the source keeps its copy stopped, marked
//! as moving, and the next apply reads which side holds it (`super::left_over`).

use std::time::{Duration, Instant};

use fleet_protocol::transfer::{Export, ImageInfo};
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
}

/// What a finished move measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The image as the source described it.
    pub image: ImageInfo,
    /// Logical bytes sent (the allocated runs of the image).
    pub logical: u64,
    /// Bytes of chunk data that crossed the sessions (compressed, base64).
    pub sent: u64,
    /// Chunks sent.
    pub chunks: u64,
    /// From the stop on the source to the start on the target.
    pub downtime: Duration,
    /// Set when the source's copy could not be removed (the next apply removes it).
    pub left_over: Option<String>,
}

/// Moves `step.spec.name` from `source` (host `step.from`) to `target` (host `step.to`).
pub async fn run<S: NodeSession>(
    step: MoveStep<'_>,
    source: &mut S,
    target: &mut S,
) -> Result<Moved, MoveError> {
    let name = step.spec.name.clone();
    let (from, to) = (step.from, step.to);
    let stays_before = format!("{name} stays on {from}");
    let started = Instant::now();
    let export = match call(source, from, begin_export(step), &stays_before).await? {
        Response::Exporting(export) => *export,
        other => {
            return Err(unexpected(
                from,
                "answered ExportBegin",
                other,
                &stays_before,
            ));
        }
    };
    let back = if export.was_running {
        format!("{name} runs on {from} again")
    } else {
        format!("{name} stays on {from}, stopped as it was")
    };
    match copy(step, &export, source, target).await {
        Ok((logical, sent, chunks)) => {
            let downtime = started.elapsed();
            let left_over = match source
                .call(Request::ExportFinish { name: name.clone() })
                .await
            {
                Ok(Response::Moved { .. }) => None,
                Ok(Response::Error { message }) => Some(message),
                Ok(other) => Some(format!("{other:?}")),
                Err(e) => Some(e.to_string()),
            }
            .map(|why| {
                format!("its copy on {from} was not removed ({why}); the next apply removes it")
            });
            Ok(Moved {
                image: export.image,
                logical,
                sent,
                chunks,
                downtime,
                left_over,
            })
        }
        Err(Failure::Uncertain(error)) => Err(error),
        Err(Failure::BeforeCommit(mut error)) => {
            if !error.loses(to) {
                let _ = target
                    .call(Request::ImportAbort { name: name.clone() })
                    .await;
            }
            if !error.loses(from) {
                match source
                    .call(Request::ExportAbort { name: name.clone() })
                    .await
                {
                    Ok(Response::Moved { .. }) => set_stays(&mut error, back),
                    Ok(Response::Error { message }) => set_stays(
                        &mut error,
                        format!("{name} is stopped on {from} and did not start again: {message}"),
                    ),
                    _ => set_stays(
                        &mut error,
                        format!(
                            "{name} is stopped on {from}; the next apply finishes or rolls back the move"
                        ),
                    ),
                }
            }
            Err(error)
        }
    }
}

/// How a copy failed: before the target could have made the container, or while it may have.
enum Failure {
    BeforeCommit(MoveError),
    Uncertain(MoveError),
}

/// Everything between the export and the finish; returns (logical bytes, bytes sent, chunks).
async fn copy<S: NodeSession>(
    step: MoveStep<'_>,
    export: &Export,
    source: &mut S,
    target: &mut S,
) -> Result<(u64, u64, u64), Failure> {
    let name = &step.spec.name;
    let (from, to) = (step.from, step.to);
    let pending =
        format!("{name} is stopped on {from}; the next apply finishes or rolls back the move");
    let before = |e| Failure::BeforeCommit(e);
    let begin = Request::ImportBegin {
        fleet: step.fleet.to_owned(),
        spec: Box::new(step.spec.clone()),
        from: from.to_owned(),
        image: export.image,
        lock_timeout_secs: step.lock_timeout_secs,
        user: step.user.to_owned(),
    };
    expect_moved(target, to, "refused the container", begin, &pending)
        .await
        .map_err(before)?;
    let (mut logical, mut sent, mut chunks) = (0u64, 0u64, 0u64);
    let digest = loop {
        let read = Request::ExportRead { name: name.clone() };
        match call(source, from, read, &pending).await.map_err(before)? {
            Response::ExportData {
                chunk: Some(chunk), ..
            } => {
                logical += u64::from(chunk.len);
                sent += chunk.data.len() as u64;
                chunks += 1;
                let write = Request::ImportChunk {
                    name: name.clone(),
                    chunk,
                };
                expect_moved(target, to, "failed to write the image", write, &pending)
                    .await
                    .map_err(before)?;
            }
            Response::ExportData {
                chunk: None,
                digest: Some(digest),
            } => break digest,
            other => {
                return Err(before(unexpected(
                    from,
                    "answered ExportRead",
                    other,
                    &pending,
                )));
            }
        }
    };
    let commit = Request::ImportCommit {
        name: name.clone(),
        digest,
        layer_ids: export.layer_ids,
    };
    match target.call(commit).await {
        Ok(Response::Moved { .. }) => Ok((logical, sent, chunks)),
        Ok(Response::Error { message }) => Err(before(MoveError::Node {
            host: to.to_owned(),
            what: "did not make the container",
            message,
            stays: pending,
        })),
        Ok(other) => Err(before(unexpected(
            to,
            "answered ImportCommit",
            other,
            &pending,
        ))),
        Err(e) => Err(Failure::Uncertain(MoveError::Lost {
            host: to.to_owned(),
            message: e.to_string(),
            stays: format!(
                "{name} is stopped on {from} and may run on {to}; the next apply finds out and \
                 finishes or rolls back the move"
            ),
        })),
    }
}

fn begin_export(step: MoveStep<'_>) -> Request {
    Request::ExportBegin {
        fleet: step.fleet.to_owned(),
        name: step.spec.name.clone(),
        to: step.to.to_owned(),
        lock_timeout_secs: step.lock_timeout_secs,
        user: step.user.to_owned(),
    }
}

/// Sends `request`; a transport error is a lost session, an error answer the node's refusal.
async fn call<S: NodeSession>(
    session: &mut S,
    host: &str,
    request: Request,
    stays: &str,
) -> Result<Response, MoveError> {
    let what = match &request {
        Request::ExportBegin { .. } => "refused to give up the container",
        Request::ExportRead { .. } => "failed to read the image",
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

async fn expect_moved<S: NodeSession>(
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

fn unexpected(host: &str, what: &'static str, other: Response, stays: &str) -> MoveError {
    MoveError::Node {
        host: host.to_owned(),
        what,
        message: format!(
            "out of protocol: {other:?} (is fleet-node older than fleet? run `fleet bootstrap`)"
        ),
        stays: stays.to_owned(),
    }
}

fn set_stays(error: &mut MoveError, now: String) {
    match error {
        MoveError::Node { stays, .. } | MoveError::Lost { stays, .. } => *stays = now,
        MoveError::NoSession { .. } => {}
    }
}
