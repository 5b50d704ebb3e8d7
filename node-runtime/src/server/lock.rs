//! The node's apply lock: an exclusive flock on `<root>/apply.lock`, held for the whole of one
//! `Apply` request, with a record of its holder (fleet, user, client, pid, time) written
//! atomically beside it in `<root>/apply.lock.holder` so a second apply can say who is in the way.
//!
//! The flock, not the record, is the lock: a holder that dies releases it with its file
//! descriptor, and a stale record left by a killed holder is simply overwritten by the next one.
//! Neighbours: [`super`] takes it around a batch, [`super::journal`] records the batch itself.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleet_protocol::LockHolder;
pub use fleet_protocol::units::utc_text;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::store::{RecordedFlock, open_lock_file};

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another apply holds it and did not let go within the timeout.
    #[error(
        "the apply lock {} is held by {}{}; retry when it ends, or pass a longer --lock-timeout",
        .path.display(),
        describe(.holder.as_deref()),
        waited_text(*.waited)
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Its holder record, when readable.
        holder: Option<Box<LockHolder>>,
        /// How long this request waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("failed to {action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn waited_text(waited: Duration) -> String {
    if waited.as_secs() == 0 {
        String::new()
    } else {
        format!(" (waited {} s)", waited.as_secs())
    }
}

/// `fleet F (user U, client C, fleet-node pid P) since T`, or a note that the record is missing.
pub fn describe(holder: Option<&LockHolder>) -> String {
    match holder {
        Some(h) => format!(
            "fleet {} (user {}, client {}, fleet-node pid {}) since {}",
            h.fleet,
            or_unknown(&h.user),
            or_unknown(&h.client),
            h.pid,
            or_unknown(&h.since)
        ),
        None => "another apply (its holder record is missing)".to_owned(),
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "unknown" } else { s }
}

/// The held lock; dropping it removes the holder record, then releases the flock.
pub type ApplyLock = RecordedFlock;

/// `<root>/apply.lock`.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join("apply.lock")
}

/// `<root>/apply.lock.holder`.
pub fn holder_path(root: &Path) -> PathBuf {
    root.join("apply.lock.holder")
}

/// Takes the lock for `holder`, waiting up to `timeout` (zero: fail at once) for another apply
/// to let go, and records the holder.
pub fn acquire(
    root: &Path,
    holder: &LockHolder,
    timeout: Duration,
) -> Result<ApplyLock, LockError> {
    let path = lock_path(root);
    let io = |action, source| LockError::Io {
        action,
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(root).map_err(|e| io("create the directory of", e))?;
    let started = Instant::now();
    let mut file = open_lock_file(&path).map_err(|e| io("open", e))?;
    let lock = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => break lock,
            Err((back, Errno::EWOULDBLOCK)) => {
                if started.elapsed() >= timeout {
                    return Err(LockError::Busy {
                        holder: read_holder(root).map(Box::new),
                        path,
                        waited: started.elapsed(),
                    });
                }
                file = back;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err((_, e)) => return Err(io("lock", e.into())),
        }
    };
    let record = serde_json::to_vec_pretty(holder).expect("a holder serializes");
    write_atomic(&holder_path(root), &record).map_err(|e| io("write the holder record of", e))?;
    Ok(RecordedFlock::new(lock, holder_path(root)))
}

/// Whether some process holds the lock now (checked by taking and releasing it at once).
pub fn is_held(root: &Path) -> bool {
    let Ok(file) = open_lock_file(&lock_path(root)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// The holder record, if one is there and readable.
pub fn read_holder(root: &Path) -> Option<LockHolder> {
    let text = std::fs::read(holder_path(root)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so a reader sees the old
/// or the new content, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_text(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(fleet: &str) -> LockHolder {
        LockHolder {
            fleet: fleet.into(),
            user: "alice@laptop".into(),
            client: "fleet 0.1.0".into(),
            pid: 42,
            since: utc_text(0),
        }
    }

    #[test]
    fn a_second_holder_fails_fast_naming_the_first_then_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), &holder("web"), Duration::ZERO).unwrap();
        assert!(is_held(dir.path()));
        let err = acquire(dir.path(), &holder("db"), Duration::ZERO).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "held by fleet web (user alice@laptop, client fleet 0.1.0, fleet-node pid 42)"
            ),
            "{text}"
        );
        drop(first);
        assert!(!holder_path(dir.path()).exists());
        assert!(!is_held(dir.path()));
        let second = acquire(dir.path(), &holder("db"), Duration::ZERO).unwrap();
        assert_eq!(read_holder(dir.path()).unwrap().fleet, "db");
        drop(second);
    }

    #[test]
    fn a_waiting_holder_gets_the_lock_when_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), &holder("web"), Duration::ZERO).unwrap();
        let root = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            acquire(&root, &holder("db"), Duration::from_secs(30)).map(|_| ())
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        waiter.join().unwrap().unwrap();
    }
}
