//! Checkpoint and restore of a running container with CRIU: the node's half of a live move.
//!
//! The library API the protocol handlers (and `fleet-node checkpoint`/`restore`) call:
//! [`checkpoint`] freezes the container's cgroup, has CRIU dump its process tree into a host-side
//! directory and thaws it on any failure; [`restore`] brings the tree back from such a directory
//! into the container's cgroup and records the new init. `criu.rs` finds the binary and says
//! whether it works here (reported in the hello); `pre_dump.rs` copies a running container's
//! memory ahead of a live move's dump, round by round. `snapshot.rs` and `clone.rs` copy a
//! container's data (`copy.rs`: its disk image or upper layer, reflinked where possible).
//!
//! Images are the tenant's bytes: fleet-node hands the directory to CRIU and reads nothing in it
//! beyond file sizes. The directory is host-side, 0700, and never inside a container's tree.

mod cgroups;
pub mod clone;
mod copy;
pub mod criu;
mod dump;
mod freeze;
mod images;
mod pre_dump;
mod restore;
pub mod snapshot;
pub mod stream;

pub use copy::LayerKind;
pub use dump::{INIT_KEY, checkpoint};
pub use freeze::FREEZE_TIMEOUT;
pub use images::{RECORD, RESTORE_LOG, Record};
pub use pre_dump::{PreDumpReport, round_name, rounds};
pub use restore::restore;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::container::{Found, Runtime};
use crate::error::{Error, Result};
use crate::store::{ContainerLock, validate_name};

/// How to checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointOptions {
    /// Keep the container running after the dump (a copy, or a live move's dry run); by default
    /// the dumped tree is killed, as a move needs.
    #[serde(default)]
    pub leave_running: bool,
}

/// What a checkpoint did and how long the container was frozen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    /// The image directory.
    pub dir: PathBuf,
    /// The CRIU that wrote it.
    pub criu_version: String,
    /// From the freeze to the end of the dump: what the container's processes lost.
    pub frozen: Duration,
    /// Bytes of the image files.
    pub image_bytes: u64,
    /// Whether the container still runs here.
    pub left_running: bool,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Host pid of the restored init, as recorded in the container's state.
    pub init_pid: i32,
    /// How long CRIU's restore took, until the tree runs again.
    pub restore: Duration,
}

/// `<root>/moving/<name>`: where a live move's dump waits on the source until the move ends
/// (and where the target unpacks what it received), the node's own, never a user's path.
pub fn move_dir(runtime: &Runtime, name: &str) -> PathBuf {
    runtime.store.root().join("moving").join(name)
}

/// The error a `verb` of `name` fails with, for a message.
fn failure<'a>(verb: &'static str, name: &'a str) -> impl Fn(String) -> Error + Copy + 'a {
    move |message| Error::Checkpoint {
        verb,
        name: name.to_owned(),
        message,
    }
}

/// The working criu, or the reason as a checkpoint error.
fn working_criu(runtime: &Runtime, verb: &'static str, name: &str) -> Result<(PathBuf, String)> {
    match criu::probe(runtime.criu.as_deref()) {
        criu::Probe::Works { path, version } => Ok((path, version)),
        other => Err(failure(verb, name)(other.note().unwrap_or_default())),
    }
}

/// What a user's checkpoint or restore of `name` begins with: a valid name, a working criu (its
/// path and version), the container's lock, held while the caller keeps it, and the container
/// as found (repaired).
fn begin(
    runtime: &Runtime,
    verb: &'static str,
    name: &str,
) -> Result<(PathBuf, String, ContainerLock, Found)> {
    validate_name(name)?;
    let (binary, version) = working_criu(runtime, verb, name)?;
    let lock = runtime.store.lock(name)?;
    let found = runtime
        .repair(name, &lock)?
        .ok_or_else(|| Error::NotFound(name.to_owned()))?;
    Ok((binary, version, lock, found))
}

/// A live move's dump on the source (the caller holds the container's lock): freeze, dump into
/// [`move_dir`] (fresh, or after `pre_dumps` rounds made there by [`pre_dump_for_move`], only
/// what changed since the last), the dumped tree killed and the container recorded as stopped;
/// any failure thaws it and it runs on.
pub(crate) fn checkpoint_for_move(
    runtime: &Runtime,
    name: &str,
    found: Found,
    pre_dumps: u32,
) -> Result<CheckpointReport> {
    let (binary, version) = working_criu(runtime, "checkpoint", name)?;
    let dir = move_dir(runtime, name);
    if pre_dumps == 0 {
        images::prepare_owned(&dir)?;
    }
    let parent = (pre_dumps > 0).then(|| round_name(pre_dumps));
    dump::dump_locked(
        runtime,
        name,
        found,
        &dir,
        &CheckpointOptions::default(),
        (&binary, &version),
        parent.as_deref(),
    )
}

/// Round `round` of a live move's pre-dumps of the running container (the caller holds its
/// lock) into [`move_dir`], made afresh at round 1; returns the round's directory and what it
/// wrote. A failure leaves the container running and the earlier rounds as they were.
pub(crate) fn pre_dump_for_move(
    runtime: &Runtime,
    name: &str,
    found: &Found,
    round: u32,
) -> Result<(PathBuf, PreDumpReport)> {
    let dir = move_dir(runtime, name);
    if round == 1 {
        images::prepare_owned(&dir)?;
    }
    let report = pre_dump::pre_dump(runtime, name, found, &dir, round)?;
    Ok((dir.join(round_name(round)), report))
}

/// Restores `name` (stopped; the caller holds its lock) from a directory of the node's own: a
/// live move's dump, received on the target or kept on the source for an abort.
pub(crate) fn restore_owned(
    runtime: &Runtime,
    name: &str,
    found: Found,
    dir: &Path,
) -> Result<RestoreReport> {
    let (binary, _) = working_criu(runtime, "restore", name)?;
    let record = images::read_record(name, dir)?;
    restore::restore_locked(runtime, name, found, dir, &record, &binary)
}
