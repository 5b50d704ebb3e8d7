//! The per-container lock: an exclusive flock on `<root>/containers/<name>.lock`.
//!
//! Destroy removes the lock file while holding it, so a waiter that then gets the lock may hold
//! it on an unlinked file; [`ContainerLock::acquire`] therefore checks, after locking, that the
//! path still names the locked inode and retries otherwise. The same holds for a lock whose
//! container does not exist when it is released (a start of a missing name, a create that was
//! refused): its file is removed then, so refused work leaves no empty lock files behind.
//!
//! The node-wide locks (the apply lock, `server/lock.rs`; the supervisor's claim,
//! `supervise/record.rs`) open their files with [`open_lock_file`] too, and hold their flock as
//! a [`RecordedFlock`]: with a record of the holder beside it, removed when the lock goes.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result, io_err};

/// Held while one operation runs on a container; released on drop.
#[derive(Debug)]
pub struct ContainerLock {
    path: PathBuf,
    /// The container directory whose absence at release means the lock file goes too.
    owner: Option<PathBuf>,
    _lock: Flock<File>,
}

impl ContainerLock {
    /// Blocks until the lock of container directory `dir` (`<dir>.lock`) is ours; released
    /// while `dir` does not exist, the lock file is removed.
    pub fn acquire_for(dir: PathBuf) -> Result<Self> {
        let mut path = dir.clone().into_os_string();
        path.push(".lock");
        let mut lock = Self::acquire(PathBuf::from(path))?;
        lock.owner = Some(dir);
        Ok(lock)
    }

    /// Blocks until the lock at `path` is ours.
    pub fn acquire(path: PathBuf) -> Result<Self> {
        Self::take(path, FlockArg::LockExclusive).map(|l| l.expect("a blocking lock is taken"))
    }

    /// The lock at `path` if nobody holds it now, else `None` (for the supervisor, which must
    /// not wait on one container while others need it).
    pub fn try_acquire(path: PathBuf) -> Result<Option<Self>> {
        Self::take(path, FlockArg::LockExclusiveNonblock)
    }

    fn take(path: PathBuf, how: FlockArg) -> Result<Option<Self>> {
        loop {
            let file = open_lock_file(&path).map_err(io_err("open lock file", &path))?;
            let lock = match Flock::lock(file, how) {
                Ok(lock) => lock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
                Err((_, e)) => {
                    return Err(Error::Io {
                        action: "lock",
                        path: path.clone(),
                        source: e.into(),
                    });
                }
            };
            let held = lock.metadata().map_err(io_err("stat", &path))?;
            match fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(Some(ContainerLock {
                        path,
                        owner: None,
                        _lock: lock,
                    }));
                }
                _ => continue,
            }
        }
    }

    /// Removes the lock file (destroy does this last, still holding the lock), unless the path
    /// no longer names the locked file (removed already, and maybe made anew by another
    /// process, whose file this is not to remove).
    pub fn remove_file(&self) {
        let ours = match (self._lock.metadata(), fs::metadata(&self.path)) {
            (Ok(held), Ok(now)) => held.ino() == now.ino() && held.dev() == now.dev(),
            _ => false,
        };
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for ContainerLock {
    /// Still holding the lock: removes its file when the container it guards does not exist,
    /// so that a waiter re-checks (see [`ContainerLock::acquire`]) and nothing is left behind.
    fn drop(&mut self) {
        if let Some(dir) = &self.owner
            && fs::symlink_metadata(dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            self.remove_file();
        }
    }
}

/// Opens the lock file at `path`, creating it (empty) when missing and never truncating it:
/// what counts is the flock on it.
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// An exclusive flock held with a record of its holder written beside it (who holds the apply
/// lock, which supervisor claims the node); dropping it removes the record, then releases the
/// flock.
#[derive(Debug)]
pub struct RecordedFlock {
    record: PathBuf,
    _lock: Flock<File>,
}

impl RecordedFlock {
    /// `lock`, whose holder's record the caller has just written at `record`.
    pub fn new(lock: Flock<File>, record: PathBuf) -> Self {
        RecordedFlock {
            record,
            _lock: lock,
        }
    }
}

impl Drop for RecordedFlock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.record);
    }
}
