//! Ending a group: finding every process in it and its subgroups, killing them until none is
//! left, and removing the group with every subgroup, children first. Its own file because a
//! container's destroy, a failed start and a restore's clean-up all end here.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Cgroup, Version};
use crate::error::{Result, io_err};

impl Cgroup {
    /// Pids in the group and every group below it, in every hierarchy (a task may sit in a
    /// subgroup of one hierarchy only).
    fn tree_pids(&self) -> Vec<i32> {
        fn walk(dir: &Path, out: &mut Vec<i32>) {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path(), out);
                }
            }
        }
        let mut pids = Vec::new();
        for dir in self.dirs() {
            walk(&dir, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// SIGKILLs every process in the group and its subgroups until they are empty (new forks
    /// are caught by the next round), giving up after `timeout`.
    pub fn kill_all(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let freezer = self.controller_dir("freezer");
        loop {
            let pids = self.tree_pids();
            if pids.is_empty() {
                return Ok(());
            }
            // Freezing first stops a fork bomb from outrunning the kill loop; the kill is
            // delivered when the group thaws.
            if let Some(f) = &freezer {
                let _ = fs::write(f.join("freezer.state"), "FROZEN");
            }
            if self.root.version == Version::V2
                && let Some(dir) = self.dirs().into_iter().next()
            {
                let _ = fs::write(dir.join("cgroup.kill"), "1");
            }
            for pid in pids {
                let _ = crate::sys::process::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            if let Some(f) = &freezer {
                let _ = fs::write(f.join("freezer.state"), "THAWED");
            }
            if Instant::now() > deadline {
                let dir = self.dirs().into_iter().next().unwrap_or_default();
                return Err(io_err("empty cgroup", dir)(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "processes survived SIGKILL",
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the group everywhere, with every group below it, children first (a container's
    /// init, or CRIU restoring it, may make groups of its own inside); it must be empty of
    /// tasks. Idempotent. Retries briefly because the kernel may still hold exiting tasks.
    pub fn remove(&self) -> Result<()> {
        for dir in self.dirs() {
            remove_tree(&dir)?;
        }
        Ok(())
    }
}

/// Removes the group directory `dir` and its subgroups, deepest first. Only directories are
/// walked (a cgroup's files are the kernel's and go with it), and no symlink is followed.
fn remove_tree(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read cgroup", dir)(e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(io_err("remove cgroup", dir)(e)),
        }
    }
}
