//! The per-container lock: an exclusive flock on `<root>/containers/<name>.lock`.
//!
//! Destroy removes the lock file while holding it, so a waiter that then gets the lock may hold
//! it on an unlinked file; [`ContainerLock::acquire`] therefore checks, after locking, that the
//! path still names the locked inode and retries otherwise.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result, io_err};

/// Held while one operation runs on a container; released on drop.
#[derive(Debug)]
pub struct ContainerLock {
    path: PathBuf,
    _lock: Flock<File>,
}

impl ContainerLock {
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
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io_err("open lock file", &path))?;
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
                    return Ok(Some(ContainerLock { path, _lock: lock }));
                }
                _ => continue,
            }
        }
    }

    /// Removes the lock file (destroy does this last, still holding the lock).
    pub fn remove_file(&self) {
        let _ = fs::remove_file(&self.path);
    }
}
