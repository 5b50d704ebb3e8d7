//! The node's persistent store: one directory per container under `<root>/containers/<name>/`
//! holding `config.json` (the protocol's `ContainerSpec`), `state.json` (what fleet-node last
//! did), the overlay's upper and work directories and the console log; and one lock file per
//! container, `<root>/containers/<name>.lock`, that serializes every operation on it.
//!
//! Neighbours: `container/` decides what to write; nothing here knows about processes or
//! cgroups. Writes are atomic (temp file, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new file. Every directory under the root is 0700 and disk
//! images and logs 0600 (`private.rs`), so host users reach nothing of a container.

mod lock;
mod private;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use fleet_protocol::{ContainerSpec, ExitStatus};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io_err};

pub use lock::{ContainerLock, RecordedFlock, open_lock_file};
pub use private::{DIR_MODE, FILE_MODE, Pinned, private_dir, secure_root, tighten};

/// The node's root when `--root` is not given.
pub const DEFAULT_ROOT: &str = "/var/lib/fleet-node";

/// Where a container's pieces live. Other modules (disk, network) add their files here.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `<root>/containers/<name>`.
    pub dir: PathBuf,
    /// The spec as created.
    pub config: PathBuf,
    /// Runtime state.
    pub state: PathBuf,
    /// Overlay upper layer (the container's own writes).
    pub upper: PathBuf,
    /// Overlay work directory.
    pub work: PathBuf,
    /// Mount point of the container's root inside its own mount namespace.
    pub rootfs: PathBuf,
    /// Init's stdout and stderr.
    pub log: PathBuf,
}

impl Layout {
    /// Whether everything create made on disk for the container is there (the overlay's upper,
    /// work and mount directories). Only those outlive a reboot: a container whose init and
    /// cgroup are gone but whose layout is whole is stopped, and one with a part missing is
    /// broken (its writable layer cannot be made again without losing what it held).
    pub fn is_whole(&self) -> bool {
        [&self.upper, &self.work, &self.rootfs]
            .iter()
            .all(|dir| dir.is_dir())
    }
}

/// What fleet-node recorded about a container beyond its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Where the container is in its life.
    pub phase: Phase,
    /// Host pid of init when it was started.
    #[serde(default)]
    pub init_pid: Option<i32>,
    /// Start time of init (clock ticks since boot), to recognise a recycled pid.
    #[serde(default)]
    pub init_start_time: Option<u64>,
    /// First host uid/gid of the container's range, when it holds one (a copy of
    /// `<root>/userns-ranges.json`, from which a lost record is rebuilt).
    #[serde(default)]
    pub userns_base: Option<u32>,
    /// The side the writable layer's owners are on: `0` for host ids (privileged), else the
    /// range's base. `None` in a state written before fleet-node recorded it: then the layer
    /// is on `userns_base` when there is one, else on host ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_ids: Option<u32>,
    /// A move of the layer's owners to this side began and did not finish (the next start
    /// finishes it; the move can run again safely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shifting_to: Option<u32>,
    /// The host boot init was started in (`/proc/sys/kernel/random/boot_id`): an init recorded
    /// in an earlier boot ended with that boot, not on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// When init was started, in milliseconds since the epoch (the back-off's reset looks at how
    /// long it ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// What the restart policy goes by (its fields stand in the state's own object on disk).
    #[serde(flatten)]
    pub restart: RestartRecord,
    /// The spec's `disk.from` was copied into the writable layer (it is copied once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seeded: bool,
    /// The root is the writable layer alone, with the template copied in (`disk.user_quota`,
    /// `rootfs::Plan::flat`); once made, it stays so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flat_root: bool,
}

/// The restart policy's record of a container: how its init ended, and its restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// A stop of a container with a restart policy is under way: an init found dead with this
    /// set was ended by that stop (cut off before it cleared the record), not on its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
    /// How init last ended on its own (not stopped by a verb).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitRecord>,
    /// Restarts by the restart policy since a verb last started the container.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// Restarts in a row, each of an init that ran shorter than the back-off's reset time: what
    /// the back-off doubles on and `max_retries` counts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streak: u32,
}

/// An end of init that no verb caused, as the supervisor or crash repair found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Host pid init had.
    pub pid: i32,
    /// How it ended ([`ExitStatus::Unknown`] until the supervisor, which saw it, says).
    pub status: ExitStatus,
    /// When it was found ended, in milliseconds since the epoch.
    pub at_ms: u64,
    /// Nothing has acted on it yet: the supervisor restarts the container by its policy or
    /// leaves it; a verb that starts or stops the container clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// The supervisor gave up restarting (`max_retries` restarts in a row).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gave_up: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl State {
    /// The side the writable layer's owners are on now (see [`State::layer_ids`]).
    pub fn layer_side(&self) -> u32 {
        self.layer_ids.or(self.userns_base).unwrap_or(0)
    }
}

/// Lifecycle phase stored in state.json. A missing state.json next to a config.json means the
/// create did not finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Fully created (running or not: the kernel says which).
    #[default]
    Ready,
    /// Destroy began; the next command finishes it.
    Destroying,
}

/// The store rooted at a directory (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store under `root`; the directory is created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/containers`.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `<root>/templates`, the template cache.
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// Paths of one container (the name must already be validated).
    pub fn layout(&self, name: &str) -> Layout {
        let dir = self.containers_dir().join(name);
        Layout {
            config: dir.join("config.json"),
            state: dir.join("state.json"),
            upper: dir.join("upper"),
            work: dir.join("work"),
            rootfs: dir.join("rootfs"),
            log: dir.join("console.log"),
            dir,
        }
    }

    /// Makes the root if it is missing and tightens it and the directories directly under it to
    /// 0700 (an existing store made before this rule is tightened at the next run).
    pub fn secure(&self) -> Result<()> {
        secure_root(&self.root)
    }

    /// Takes the container's lock, waiting for any other holder.
    pub fn lock(&self, name: &str) -> Result<ContainerLock> {
        let dir = self.containers_dir();
        private_dir(&dir)?;
        ContainerLock::acquire_for(dir.join(name))
    }

    /// Takes the container's lock if nobody holds it now.
    pub fn try_lock(&self, name: &str) -> Result<Option<ContainerLock>> {
        let dir = self.containers_dir();
        private_dir(&dir)?;
        ContainerLock::try_acquire(dir.join(format!("{name}.lock")))
    }

    /// Takes a node-wide lock `<root>/<what>.lock` (for choices that span containers, such as
    /// user namespace ranges).
    pub fn node_lock(&self, what: &str) -> Result<ContainerLock> {
        private_dir(&self.root)?;
        ContainerLock::acquire(self.root.join(format!("{what}.lock")))
    }

    /// Names of every container with a directory, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let dir = self.containers_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read directory", &dir)(e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The stored spec, if the container has one. A config written before unprivileged became
    /// the default has no `privileged` key; it is read as it ran (see [`legacy_config`]).
    pub fn read_config(&self, name: &str) -> Result<Option<ContainerSpec>> {
        let path = self.layout(name).config;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        let parsed = match serde_json::from_slice::<KeyProbe>(&bytes) {
            Ok(KeyProbe {
                privileged: None, ..
            }) => legacy_config(&bytes),
            _ => serde_json::from_slice(&bytes),
        };
        parsed
            .map(Some)
            .map_err(|source| Error::Json { path, source })
    }

    /// Stores the spec atomically.
    pub fn write_config(&self, name: &str, spec: &ContainerSpec) -> Result<()> {
        write_json(&self.layout(name).config, spec, true)
    }

    /// The stored state, if any.
    pub fn read_state(&self, name: &str) -> Result<Option<State>> {
        match read_json(&self.layout(name).state) {
            // Empty or cut short: a write that a power cut lost (see `write_state_unsynced`).
            // Repair then takes the container as a create to finish and reads init from the
            // kernel again.
            Err(Error::Json { .. }) => Ok(None),
            other => other,
        }
    }

    /// Stores the state atomically and durably.
    pub fn write_state(&self, name: &str, state: &State) -> Result<()> {
        write_json(&self.layout(name).state, state, true)
    }

    /// Stores the state atomically without waiting for the disk (no fsync): for the record of a
    /// start (init's pid and start time), which repair recomputes from the kernel. A power cut
    /// may leave the previous state or an unreadable file, which [`Store::read_state`] reads as
    /// missing. Saves a disk flush on every start; anything that must survive a power cut (a
    /// shift of the layer's owners begun, destroy begun) is written with [`Store::write_state`].
    pub fn write_state_unsynced(&self, name: &str, state: &State) -> Result<()> {
        write_json(&self.layout(name).state, state, false)
    }
}

/// Which of the keys that changed meaning a stored config has.
#[derive(Deserialize)]
struct KeyProbe {
    #[serde(default)]
    privileged: Option<serde::de::IgnoredAny>,
}

/// Reads a config stored by a fleet-node from before unprivileged containers were the default.
/// Its `user_namespace: true` ran in a user namespace, so it is unprivileged; anything else ran
/// as host root and stays privileged, so nothing changes behind the operator's back (the plan
/// shows the restart that makes it unprivileged).
pub fn legacy_config(bytes: &[u8]) -> serde_json::Result<ContainerSpec> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
    if let Some(object) = value.as_object_mut() {
        let user_namespace = object
            .remove("user_namespace")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        object.insert("privileged".into(), (!user_namespace).into());
    }
    serde_json::from_value(value)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Json {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T, durable: bool) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("store types serialize");
    bytes.push(b'\n');
    write_atomically(path, &bytes, durable)
}

/// Writes `bytes` to `path` so that readers see the old or the new content, never a mix: temp
/// file in the same directory, fsync, rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, bytes, true)
}

fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut file = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(bytes).map_err(io_err("write", &tmp))?;
    if durable {
        file.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    drop(file);
    // No fsync of the directory: it would only make the rename durable, and a rename lost in a
    // power cut leaves the previous file, which crash repair corrects from the kernel's view.
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))
}

/// Checks a container name: 1-64 characters of `[A-Za-z0-9._-]`, not starting with `.` (which
/// also rules out `..` and hidden temp names). Names become directory and cgroup names.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 64 {
        return bad("it is longer than 64 characters");
    }
    if name.contains('/') {
        return bad("it contains '/'");
    }
    if name.contains("..") {
        return bad("it contains '..'");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return bad("it contains a character other than letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restart_record_stands_in_the_states_own_object_on_disk() {
        let state = State {
            init_pid: Some(7),
            started_at_ms: Some(5),
            restart: RestartRecord {
                stopping: true,
                restarts: 2,
                streak: 1,
                ..RestartRecord::default()
            },
            seeded: true,
            ..State::default()
        };
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(
            text,
            r#"{"phase":"ready","init_pid":7,"init_start_time":null,"userns_base":null,"started_at_ms":5,"stopping":true,"restarts":2,"streak":1,"seeded":true}"#
        );
        assert_eq!(serde_json::from_str::<State>(&text).unwrap(), state);
    }

    #[test]
    fn a_state_with_an_exit_record_reads_and_writes_back_byte_for_byte() {
        // As fleet-node wrote it before the record was its own struct: every restart field,
        // the exit's internally tagged status included, beside the state's others.
        let old = r#"{"phase":"ready","init_pid":null,"init_start_time":null,"userns_base":165536,"boot_id":"b","started_at_ms":5,"exit":{"pid":9,"status":{"kind":"exited","code":3},"at_ms":6,"pending":true},"restarts":4,"streak":2,"flat_root":true}"#;
        let state: State = serde_json::from_str(old).unwrap();
        let exit = state.restart.exit.as_ref().expect("the exit is read");
        assert_eq!(exit.status, ExitStatus::Exited { code: 3 });
        assert!(exit.pending && state.flat_root);
        assert_eq!((state.restart.restarts, state.restart.streak), (4, 2));
        assert_eq!(serde_json::to_string(&state).unwrap(), old);
    }

    #[test]
    fn names_are_checked() {
        for good in ["web-01", "a", "db_2.prod", &"x".repeat(64)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            "a..b",
            ".hidden",
            "sp ace",
            &"x".repeat(65),
        ] {
            let err = validate_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid container name"), "{err}");
        }
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = Store::new(dir.path());
        let _ = store;
        atomic_write(&path, b"one").unwrap();
        atomic_write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left");
    }
}
