//! Snapshots of a container's data: `<root>/snapshots/<name>/<tag>/` holds a copy of its
//! writable layer (disk image or upper directory, `copy.rs`), its config at the time and
//! `snapshot.json`. Made under the container's lock (frozen for the copy when it runs) in a
//! temporary directory renamed into place, so a tag either exists whole or not at all. A
//! restore puts the layer back into the stopped container; its config stays the current one
//! (limits are the orchestrator's).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::copy;
use crate::container::Runtime;
use crate::error::{Error, Result, io_err};
use crate::store::{private_dir, validate_name};

/// fleet-node's record in a snapshot directory.
const RECORD: &str = "snapshot.json";

pub use fleet_protocol::snapshot::Snapshot;

fn dir_of(runtime: &Runtime, name: &str) -> PathBuf {
    runtime.store.root().join("snapshots").join(name)
}

fn fail(name: &str, message: String) -> Error {
    Error::Checkpoint {
        verb: "snapshot",
        name: name.to_owned(),
        message,
    }
}

/// Checks a tag: 1-64 letters, digits, '-', '_', '.', not starting with '.'.
pub fn validate_tag(name: &str, tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && !tag.starts_with('.')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(fail(
            name,
            format!(
                "invalid snapshot tag {tag:?}: tags are 1-64 characters of letters, digits, \
                 '-', '_' and '.', not starting with '.'"
            ),
        ))
    }
}

/// Takes a snapshot of container `name` under `tag` (default: `snap-<unix seconds>`).
pub fn create(runtime: &Runtime, name: &str, tag: Option<&str>) -> Result<Snapshot> {
    validate_name(name)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tag = tag.map_or_else(|| format!("snap-{now}"), str::to_owned);
    validate_tag(name, &tag)?;
    let lock = runtime.store.lock(name)?;
    let found = runtime
        .repair(name, &lock)?
        .ok_or_else(|| Error::NotFound(name.to_owned()))?;
    let dir = dir_of(runtime, name);
    let final_dir = dir.join(&tag);
    if final_dir.exists() {
        return Err(fail(
            name,
            format!(
                "snapshot tag {tag:?} exists already (taken {}); pick another tag, or delete it \
                 first: fleet-node snapshot delete {name} {tag}",
                read(&final_dir).map_or(0, |s| s.created)
            ),
        ));
    }
    private_dir(&runtime.store.root().join("snapshots"))?;
    private_dir(&dir)?;
    let staging = dir.join(format!(".incoming-{tag}"));
    copy::remove_tree(&staging)?;
    private_dir(&staging)?;
    let made = (|| {
        let running = found.init.is_some();
        let layer = copy::copy_out(runtime, name, &staging, running)?;
        let config = runtime.store.layout(name).config;
        std::fs::copy(&config, staging.join("config.json")).map_err(io_err("copy", &config))?;
        let snapshot = Snapshot {
            tag: tag.clone(),
            created: now,
            layer,
            layer_ids: found.state.layer_side(),
            bytes: copy::allocated(&staging),
            was_running: running,
        };
        let bytes = serde_json::to_vec_pretty(&snapshot).expect("a snapshot serializes");
        crate::store::atomic_write(&staging.join(RECORD), &bytes)?;
        std::fs::rename(&staging, &final_dir).map_err(io_err("rename", &staging))?;
        Ok(snapshot)
    })();
    if made.is_err() {
        let _ = copy::remove_tree(&staging);
    }
    made
}

/// The container's snapshots, oldest first.
pub fn list(runtime: &Runtime, name: &str) -> Result<Vec<Snapshot>> {
    validate_name(name)?;
    if runtime.store.read_config(name)?.is_none() && !dir_of(runtime, name).exists() {
        return Err(Error::NotFound(name.to_owned()));
    }
    let mut out: Vec<Snapshot> = std::fs::read_dir(dir_of(runtime, name))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| read(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| a.created.cmp(&b.created).then(a.tag.cmp(&b.tag)));
    Ok(out)
}

/// Puts snapshot `tag`'s data back into container `name`, which must be stopped.
pub fn restore(runtime: &Runtime, name: &str, tag: &str) -> Result<Snapshot> {
    validate_name(name)?;
    validate_tag(name, tag)?;
    let lock = runtime.store.lock(name)?;
    let found = runtime
        .repair(name, &lock)?
        .ok_or_else(|| Error::NotFound(name.to_owned()))?;
    let dir = dir_of(runtime, name).join(tag);
    let snapshot = read(&dir).map_err(|_| missing(runtime, name, tag))?;
    if let Some(pid) = found.init {
        return Err(fail(
            name,
            format!(
                "it is running (init pid {pid}); stop it first (fleet-node stop {name}), then \
                 restore snapshot {tag:?}"
            ),
        ));
    }
    if snapshot.layer != copy::layer_of(runtime, name) {
        return Err(fail(
            name,
            format!(
                "snapshot {tag:?} holds a {:?} layer but the container now has a {:?} one (its \
                 disk.space changed since); nothing was changed",
                snapshot.layer,
                copy::layer_of(runtime, name)
            ),
        ));
    }
    copy::copy_in(runtime, name, &dir, snapshot.layer)?;
    // The next start moves the owners to the container's side if the snapshot's differs.
    let mut state = found.state;
    state.layer_ids = Some(snapshot.layer_ids);
    runtime.store.write_state(name, &state)?;
    Ok(snapshot)
}

/// Deletes snapshot `tag` of container `name`.
pub fn delete(runtime: &Runtime, name: &str, tag: &str) -> Result<()> {
    validate_name(name)?;
    validate_tag(name, tag)?;
    let _lock = runtime.store.lock(name)?;
    let dir = dir_of(runtime, name).join(tag);
    if read(&dir).is_err() {
        return Err(missing(runtime, name, tag));
    }
    // Renamed away first, so a cut-off delete leaves no half snapshot under its tag.
    let doomed = dir_of(runtime, name).join(format!(".deleting-{tag}"));
    copy::remove_tree(&doomed)?;
    std::fs::rename(&dir, &doomed).map_err(io_err("rename", &dir))?;
    copy::remove_tree(&doomed)
}

fn read(dir: &Path) -> Result<Snapshot> {
    let path = dir.join(RECORD);
    let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })
}

fn missing(runtime: &Runtime, name: &str, tag: &str) -> Error {
    let tags: Vec<String> = list(runtime, name)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.tag)
        .collect();
    fail(
        name,
        format!(
            "no snapshot tagged {tag:?}; it has {} (fleet-node snapshot list {name})",
            if tags.is_empty() {
                "none".to_owned()
            } else {
                tags.join(", ")
            }
        ),
    )
}
