//! The node's side of a move between hosts: as the source it stops a container, reads its disk
//! image through a descriptor and hands it out in compressed, checksummed chunks
//! ([`export`]); as the target it writes what it receives apart from its containers, verifies
//! the checksum and only then makes the container from the image ([`import`]).
//!
//! Neither side trusts the other: the image is the tenant's bytes and the orchestrator only
//! relays. Every length a message carries is checked against the bounds both sides share
//! (`fleet_protocol::transfer`), decompression is capped at the length announced, chunks must
//! come in order and inside the image, and nothing received is used before the checksum of the
//! whole matches. A move's state is kept where the next apply can read it: the source marks
//! the container (`moving.json` in its store directory, reported as `moving_to`), and the
//! target keeps the image under `<root>/incoming/` until the commit makes it a container.
//!
//! Neighbours: `server/` hands the move requests here with the session's [`Transfers`];
//! the orchestrator's `migrate/` drives both ends.

mod chunk;
mod digest;
mod export;
mod extents;
mod import;
mod live;
mod pre_dump;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fleet_protocol::{Request, Response};
use serde::{Deserialize, Serialize};

use crate::container::Runtime;
use crate::store::{Layout, atomic_write, private_dir};

pub use digest::Digest;

/// Moves under way in one session (what the source exports, what the target receives). Dropped
/// with the session: an export's container stays stopped and marked, an import's file is
/// replaced by the next `ImportBegin` and never used without a commit.
#[derive(Debug, Default)]
pub struct Transfers {
    exports: BTreeMap<String, export::Exporting>,
    imports: BTreeMap<String, import::Importing>,
    /// A live move's pre-dump rounds on the source, until its export takes them.
    pre_dumps: BTreeMap<String, pre_dump::PreDumping>,
    /// And on the target, until its import takes them.
    pre_imports: BTreeMap<String, pre_dump::Rounds>,
}

/// What the source records beside a container it stopped for a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Host it moves to.
    pub to: String,
    /// Whether it ran before the move stopped it (an abort starts it again).
    pub was_running: bool,
    /// A live move: the dump under `<root>/moving/` is how it is put back (restored) here.
    #[serde(default)]
    pub live: bool,
}

fn mark_path(layout: &Layout) -> PathBuf {
    layout.dir.join("moving.json")
}

/// The mark of a move of this container that began and did not end.
pub fn read_mark(layout: &Layout) -> Option<Mark> {
    let bytes = std::fs::read(mark_path(layout)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The host a move of this container is under way to, when one began and did not end.
pub fn moving_to(layout: &Layout) -> Option<String> {
    read_mark(layout).map(|m| m.to)
}

/// Whether that move was live and left its dump here (the processes are in it).
pub fn moving_live(layout: &Layout) -> bool {
    read_mark(layout).is_some_and(|m| m.live)
}

/// A batch's start of `name`: when a move mark is left here (its move was cut off and the plan
/// keeps the container here), the move is rolled back and the mark cleared. A live move's
/// container is restored from the dump it left (its processes as they were; started afresh if
/// that fails, and an error if even that fails: the batch must not report it started);
/// otherwise, and without a mark, this is the plain start.
pub fn start(runtime: &Runtime, name: &str) -> crate::error::Result<bool> {
    crate::store::validate_name(name)?;
    let layout = runtime.store.layout(name);
    let Some(mark) = read_mark(&layout) else {
        return runtime.start(name);
    };
    let lock = runtime.store.lock(name)?;
    let running = runtime
        .repair(name, &lock)?
        .is_some_and(|found| found.init.is_some());
    let changed = match (running, mark.live) {
        (true, _) => Ok(false),
        (false, true) => {
            let put = live::put_back(runtime, name, &lock);
            put.log(name);
            match put {
                // The dump is gone with the put-back: a mark kept would say it moves live.
                live::PutBack::Stopped(message) => Err(crate::error::Error::Spawn {
                    name: name.to_owned(),
                    message,
                }),
                live::PutBack::Restored | live::PutBack::Afresh(_) => Ok(true),
            }
        }
        // A cold start that fails keeps the mark (returned before it is cleared).
        (false, false) => Ok(runtime.start_locked(name, &lock)?),
    };
    clear_mark(&layout);
    live::forget(runtime, name);
    changed
}

fn write_mark(layout: &Layout, mark: &Mark) -> crate::error::Result<()> {
    atomic_write(
        &mark_path(layout),
        &serde_json::to_vec(mark).expect("a mark serializes"),
    )
}

/// `<root>/incoming/`, made if missing and kept 0700: where the target holds what it receives
/// until the commit.
fn incoming_dir(runtime: &Runtime) -> Result<PathBuf, String> {
    let dir = runtime.store.root().join("incoming");
    private_dir(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A fresh 0600 file at `path` for what the target receives, never opened through a link; what
/// an earlier, cut-off move left there is removed first.
fn receive_file(path: &Path) -> Result<File, String> {
    let _ = std::fs::remove_file(path);
    File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))
}

fn clear_mark(layout: &Layout) {
    let _ = std::fs::remove_file(mark_path(layout));
}

/// Answers a move request (the server took the apply lock for the begins).
pub fn handle(runtime: &Runtime, transfers: &mut Transfers, request: Request) -> Response {
    let result = match request {
        Request::PreDump { name, .. } => {
            let mut slot = transfers.pre_dumps.remove(&name);
            let made = pre_dump::round(runtime, &name, &mut slot);
            if let Some(state) = slot {
                transfers.pre_dumps.insert(name, state);
            }
            made.map(Response::PreDumped)
        }
        Request::ExportBegin { name, to, live, .. } => {
            let pre_dumped = transfers.pre_dumps.remove(&name);
            export::begin(runtime, &name, &to, live, pre_dumped).map(|(answer, exporting)| {
                transfers.exports.insert(name, exporting);
                Response::Exporting(Box::new(answer))
            })
        }
        Request::ExportRead { name, raw } => match transfers.exports.get_mut(&name) {
            Some(exporting) => exporting
                .read(raw)
                .map(|(chunk, digest)| Response::ExportData { chunk, digest }),
            None => Err(not_under_way("export", &name)),
        },
        Request::CheckpointRead { name, raw } => match (
            transfers.exports.get_mut(&name),
            transfers.pre_dumps.get_mut(&name),
        ) {
            (Some(exporting), _) => exporting.read_checkpoint(raw),
            (None, Some(pre_dumping)) => pre_dumping.read(raw),
            (None, None) => Err(not_under_way("export", &name)),
        }
        .map(|(chunk, digest)| Response::ExportData { chunk, digest }),
        Request::ExportFinish { name } => {
            transfers.exports.remove(&name);
            export::finish(runtime, &name).map(|changed| Response::Moved { changed })
        }
        Request::ExportAbort { name } => {
            transfers.exports.remove(&name);
            // Rounds no export took: forgotten (the container ran on throughout).
            let pre_dumped = transfers.pre_dumps.remove(&name).is_some();
            export::abort(runtime, &name).map(|aborted| match aborted {
                export::Aborted::Afresh(why) => Response::StartedAfresh { why },
                export::Aborted::Back => Response::Moved { changed: true },
                export::Aborted::Nothing => Response::Moved {
                    changed: pre_dumped,
                },
            })
        }
        Request::ImportPreDump {
            name, round, bytes, ..
        } => {
            let rounds = transfers.pre_imports.entry(name.clone()).or_default();
            pre_dump::begin_round(runtime, &name, round, bytes, rounds)
                .map(|()| Response::Moved { changed: true })
        }
        Request::ImportBegin {
            spec,
            from,
            image,
            checkpoint,
            ..
        } => {
            let rounds = transfers.pre_imports.remove(&spec.name).unwrap_or_default();
            import::Importing::begin(runtime, *spec, &from, image, checkpoint, rounds).map(
                |importing| {
                    transfers
                        .imports
                        .insert(importing.name().to_owned(), importing);
                    Response::Moved { changed: true }
                },
            )
        }
        Request::ImportChunk { name, chunk } => match transfers.imports.get_mut(&name) {
            Some(importing) => importing
                .write(&chunk)
                .map(|()| Response::Moved { changed: true }),
            None => Err(not_under_way("import", &name)),
        },
        Request::ImportCheckpoint { name, chunk } => match (
            transfers.imports.get_mut(&name),
            transfers.pre_imports.get_mut(&name),
        ) {
            (Some(importing), _) => importing.write_checkpoint(&chunk),
            (None, Some(rounds)) => rounds.write(&chunk),
            (None, None) => Err(not_under_way("import", &name)),
        }
        .map(|()| Response::Moved { changed: true }),
        Request::ImportCommit {
            name,
            digest,
            layer_ids,
            checkpoint_digest,
            pre_dump_digests,
        } => match transfers.imports.remove(&name) {
            Some(importing) => importing
                .commit(
                    runtime,
                    &digest,
                    layer_ids,
                    checkpoint_digest.as_deref(),
                    &pre_dump_digests,
                )
                .map_or_else(
                    |refused| match refused {
                        import::Refused::LiveOnly(message) => Ok(Response::LiveRefused { message }),
                        import::Refused::Failed(message) => Err(message),
                    },
                    |restored| {
                        Ok(match restored {
                            Some(r) => Response::Restored {
                                init_pid: r.init_pid,
                                restore_ms: r.restore.as_millis() as u64,
                            },
                            None => Response::Moved { changed: true },
                        })
                    },
                ),
            None => Err(not_under_way("import", &name)),
        },
        Request::ImportAbort { name } => Ok(Response::Moved {
            changed: transfers.imports.remove(&name).is_some()
                | transfers.pre_imports.remove(&name).is_some(),
        }),
        other => Err(format!("not a move request: {other:?}")),
    };
    result.unwrap_or_else(|message| Response::Error { message })
}

fn not_under_way(what: &str, name: &str) -> String {
    format!("no {what} of {name} is under way in this session (it begins with {what}_begin)")
}
