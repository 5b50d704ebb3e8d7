//! A move over two open sessions, cold or live: a live one's pre-dump rounds first where the
//! source tracks dirty memory (`pre_dump.rs`), then the source stops the container (cold) or
//! checkpoints it with CRIU (live: freeze, dump, the tree ends there) and opens its disk image
//! (`ExportBegin`), the target gets ready (`ImportBegin`), the image goes across chunk by chunk
//! (`ExportRead` from the source, `ImportChunk` to the target: the bytes pass through here and
//! are never decoded), then a live move's dump the same way (`CheckpointRead`,
//! `ImportCheckpoint`), the target verifies the checksums and makes and starts the container,
//! or restores it from the dump (`ImportCommit`), and only then the source destroys its copy
//! (`ExportFinish`).
//!
//! On a failure before the commit the target drops what it received and the source puts the
//! container back: started again (cold) or restored from the dump it kept (live; started afresh
//! when that dump does not restore, and the message says so) (`ImportAbort`, `ExportAbort`).
//! When the target's session breaks while it commits, whether it made the container is
//! unknown: the source keeps its copy stopped, marked as moving, and the next apply reads which
//! side holds it (`super::left_over`).

use std::time::{Duration, Instant};

use fleet_protocol::transfer::{Export, ImageInfo};
use fleet_protocol::{Request, Response};

use super::error::MoveError;
use super::pre_dump::{self, PreDumps};
pub use super::wire::MoveStep;
use super::wire::{Stream, call, expect_moved, relay, unexpected};
use crate::transport::NodeSession;

/// What a live move measured beyond a cold one's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFigures {
    /// The pre-dump rounds made before the freeze, or why none.
    pub pre_dumps: PreDumps,
    /// How long the source's processes were frozen for the dump.
    pub frozen: Duration,
    /// How long CRIU's restore took on the target.
    pub restore: Duration,
    /// Bytes of the dump's stream.
    pub checkpoint: u64,
    /// Bytes of the dump's chunks that crossed the sessions (compressed, encoded).
    pub checkpoint_sent: u64,
}

/// What a finished move measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The image as the source described it.
    pub image: ImageInfo,
    /// Logical bytes sent (the allocated runs of the image).
    pub logical: u64,
    /// Bytes of chunk data that crossed the sessions (compressed where that paid; raw, or
    /// base64 to an older node).
    pub sent: u64,
    /// Chunks sent.
    pub chunks: u64,
    /// From the stop (or the freeze) on the source to running on the target.
    pub downtime: Duration,
    /// A live move's figures; `None` for a cold move.
    pub live: Option<LiveFigures>,
    /// Set when the source's copy could not be removed (the next apply removes it).
    pub left_over: Option<String>,
    /// Why a move planned live was made cold (the target refused to restore the tree).
    pub made_cold: Option<String>,
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
    let pre = if step.live {
        match pre_dump::run(step, source, target).await {
            Ok(pre) => pre,
            Err(error) => {
                // The container ran on throughout: only the rounds are dropped on both sides.
                for (host, session) in [(to, &mut *target), (from, &mut *source)] {
                    if !error.loses(host) {
                        let forget = if host == to {
                            Request::ImportAbort { name: name.clone() }
                        } else {
                            Request::ExportAbort { name: name.clone() }
                        };
                        let _ = session.call(forget).await;
                    }
                }
                return Err(error);
            }
        }
    } else {
        PreDumps::default()
    };
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
    let back = if export.checkpoint.is_some() {
        format!("{name} runs on {from} again, restored from its checkpoint")
    } else if export.was_running {
        format!("{name} runs on {from} again")
    } else {
        format!("{name} stays on {from}, stopped as it was")
    };
    match copy(step, &export, source, target, pre).await {
        Ok(Copied {
            logical,
            sent,
            chunks,
            live,
        }) => {
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
                live,
                left_over,
                made_cold: None,
            })
        }
        Err(Failure::Uncertain(error)) => Err(error),
        Err(Failure::BeforeCommit(mut error, live_refused)) => {
            if !error.loses(to) {
                let _ = target
                    .call(Request::ImportAbort { name: name.clone() })
                    .await;
            }
            if !error.loses(from) {
                let put_back = match source
                    .call(Request::ExportAbort { name: name.clone() })
                    .await
                {
                    Ok(Response::Moved { .. }) => Ok(back),
                    // Its dump did not restore: it runs, but its processes restarted.
                    Ok(Response::StartedAfresh { why }) => Ok(format!(
                        "{name} runs on {from} again, started afresh (its processes restarted): \
                         its checkpoint did not restore ({why})"
                    )),
                    Ok(Response::Error { message }) => Err(format!(
                        "{name} is stopped on {from} and did not start again: {message}"
                    )),
                    _ => Err(format!(
                        "{name} is stopped on {from}; the next apply finishes or rolls back the move"
                    )),
                };
                match (put_back, live_refused) {
                    // Back on the source and running: the target that refused its tree gets
                    // it cold (stopped, its disk sent, started there).
                    (Ok(_), Some(why)) => {
                        let cold = MoveStep {
                            live: false,
                            ..step
                        };
                        let mut moved = Box::pin(run(cold, source, target)).await?;
                        moved.made_cold = Some(why);
                        return Ok(moved);
                    }
                    (Ok(now) | Err(now), _) => set_stays(&mut error, now),
                }
            }
            Err(error)
        }
    }
}

/// How a copy failed: before the target could have made the container (with why, when it
/// refused a live move's tree but would take the container cold), or while it may have.
enum Failure {
    BeforeCommit(MoveError, Option<String>),
    Uncertain(MoveError),
}

/// What the copy between the export and the finish measured.
struct Copied {
    /// Logical bytes of the image sent.
    logical: u64,
    /// Bytes of the image's chunks that crossed.
    sent: u64,
    /// The image's chunks.
    chunks: u64,
    /// A live move's figures.
    live: Option<LiveFigures>,
}

/// Everything between the export and the finish.
async fn copy<S: NodeSession>(
    step: MoveStep<'_>,
    export: &Export,
    source: &mut S,
    target: &mut S,
    pre: PreDumps,
) -> Result<Copied, Failure> {
    let name = &step.spec.name;
    let (from, to) = (step.from, step.to);
    let pending =
        format!("{name} is stopped on {from}; the next apply finishes or rolls back the move");
    let before = |e| Failure::BeforeCommit(e, None);
    let begin = Request::ImportBegin {
        fleet: step.fleet.to_owned(),
        spec: Box::new(step.spec.clone()),
        from: from.to_owned(),
        image: export.image,
        checkpoint: export.checkpoint.as_ref().map(|c| c.bytes),
        lock_timeout_secs: step.lock_timeout_secs,
        user: step.user.to_owned(),
    };
    expect_moved(target, to, "refused the container", begin, &pending)
        .await
        .map_err(before)?;
    let image = relay(step, Stream::Image, source, target, &pending)
        .await
        .map_err(before)?;
    let checkpoint = match &export.checkpoint {
        Some(_) => Some(
            relay(step, Stream::Checkpoint, source, target, &pending)
                .await
                .map_err(before)?,
        ),
        None => None,
    };
    let commit = Request::ImportCommit {
        name: name.clone(),
        digest: image.digest,
        layer_ids: export.layer_ids,
        checkpoint_digest: checkpoint.as_ref().map(|c| c.digest.clone()),
        pre_dump_digests: pre.digests.clone(),
    };
    let copied = |restore_ms: Option<u64>| Copied {
        logical: image.logical,
        sent: image.sent,
        chunks: image.chunks,
        live: export.checkpoint.as_ref().map(|info| LiveFigures {
            pre_dumps: pre.clone(),
            frozen: Duration::from_millis(info.frozen_ms),
            restore: Duration::from_millis(restore_ms.unwrap_or_default()),
            checkpoint: info.bytes,
            checkpoint_sent: checkpoint.as_ref().map(|c| c.sent).unwrap_or_default(),
        }),
    };
    match target.call(commit).await {
        Ok(Response::Moved { .. }) if checkpoint.is_none() => Ok(copied(None)),
        Ok(Response::Restored { restore_ms, .. }) if checkpoint.is_some() => {
            Ok(copied(Some(restore_ms)))
        }
        Ok(Response::Error { message }) => Err(before(MoveError::Node {
            host: to.to_owned(),
            what: "did not make the container",
            message,
            stays: pending,
        })),
        Ok(Response::LiveRefused { message }) if checkpoint.is_some() => {
            Err(Failure::BeforeCommit(
                MoveError::Node {
                    host: to.to_owned(),
                    what: "did not restore the container",
                    message: message.clone(),
                    stays: pending,
                },
                Some(format!("{to} cannot restore it live: {message}")),
            ))
        }
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
        live: step.live,
    }
}

fn set_stays(error: &mut MoveError, now: String) {
    match error {
        MoveError::Node { stays, .. } | MoveError::Lost { stays, .. } => *stays = now,
        MoveError::NoSession { .. } => {}
    }
}
