//! One supervisor per node root: an exclusive flock on `<root>/supervise.lock`, held for the
//! supervisor's life, and a record beside it (`<root>/supervise.json`: pid, its start time,
//! since when) that the hello reads to say whether a supervisor runs, without touching the lock.
//!
//! The flock is the claim (a supervisor that dies releases it with its descriptor); the record
//! is only believed while its pid is alive with the recorded start time, so a stale one left by
//! a killed supervisor reads as "none".

use std::path::{Path, PathBuf};

use fleet_protocol::SupervisorInfo;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io_err};
use crate::server::lock::now_utc;
use crate::store::{RecordedFlock, open_lock_file};
use crate::sys::process;

/// The held claim; dropping it removes the record, then releases the flock.
pub type Claim = RecordedFlock;

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    pid: u32,
    start_time: Option<u64>,
    since: String,
}

fn lock_path(root: &Path) -> PathBuf {
    root.join("supervise.lock")
}

fn record_path(root: &Path) -> PathBuf {
    root.join("supervise.json")
}

/// Claims the node for this process, or fails naming the supervisor that has it.
pub fn claim(root: &Path) -> Result<Claim> {
    let path = lock_path(root);
    let file = open_lock_file(&path).map_err(io_err("open", &path))?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => {
            let who = running(root).map_or_else(
                || "another process".to_owned(),
                |s| format!("pid {} (since {})", s.pid, s.since),
            );
            return Err(Error::Supervised {
                root: root.to_owned(),
                holder: who,
            });
        }
        Err((_, e)) => return Err(io_err("lock", &path)(e.into())),
    };
    let pid = std::process::id();
    let record = Record {
        pid,
        start_time: process::start_time(pid as i32),
        since: now_utc(),
    };
    let bytes = serde_json::to_vec_pretty(&record).expect("the record serializes");
    let at = record_path(root);
    crate::store::atomic_write(&at, &bytes)?;
    Ok(RecordedFlock::new(lock, at))
}

/// The supervisor running for `root`, if one does.
pub fn running(root: &Path) -> Option<SupervisorInfo> {
    let bytes = std::fs::read(record_path(root)).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    let pid = i32::try_from(record.pid).ok()?;
    let alive = process::alive(pid)
        && record.start_time.is_some()
        && process::start_time(pid) == record.start_time;
    alive.then_some(SupervisorInfo {
        pid: record.pid,
        since: record.since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_root_and_the_record_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running(dir.path()), None);
        let first = claim(dir.path()).unwrap();
        let info = running(dir.path()).expect("recorded");
        assert_eq!(info.pid, std::process::id());
        let err = claim(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert_eq!(running(dir.path()), None);
        claim(dir.path()).unwrap();
    }

    #[test]
    fn a_stale_record_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let stale = Record {
            pid: std::process::id(),
            start_time: Some(1),
            since: now_utc(),
        };
        std::fs::write(record_path(dir.path()), serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(running(dir.path()), None);
    }
}
