//! How a container's new processes (its init, the console keeper, an exec'd command) get into its
//! groups, cheaply.
//!
//! A process that writes `0` to a v1 `tasks` file moves only itself, and the kernel skips its
//! global threadgroup lock. Writing to `cgroup.procs`, the only way into a cgroup2 group by a
//! write, takes the write side of that lock, which first waits for an RCU grace period: 6-18 ms
//! per write measured on this machine's hybrid host (docs/node-runtime.md, "Session 11"), and
//! every start paid it twice (the keeper and init's parent, at the same moment). So the cgroup2
//! group (a v2 host's only hierarchy, a hybrid host's unified one) is entered at birth instead:
//! clone3 with `CLONE_INTO_CGROUP`, which takes only the read side. A kernel without it (before
//! 5.7) gets the write, in the child.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::sys::process::{self, ForkResult};

/// Where a new process joins a container's groups ([`super::Cgroup::join`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Join {
    /// v1 `tasks` files, one per hierarchy, for the process itself to write `0` to.
    pub tasks: Vec<PathBuf>,
    /// The group on the cgroup2 hierarchy, if the host has one, to fork the process into.
    pub v2: Option<PathBuf>,
}

impl Join {
    /// Opens what a fork needs, before forking: the cgroup2 group's directory.
    pub fn ready(&self) -> io::Result<Ready> {
        let v2 = match &self.v2 {
            Some(dir) => Some(
                File::options()
                    .read(true)
                    // clone3 takes a directory descriptor (not an O_PATH one)
                    .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                    .open(dir)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("open {}: {e}", dir.display()))
                    })?,
            ),
            None => None,
        };
        Ok(Ready {
            tasks: self.tasks.clone(),
            v2,
        })
    }
}

/// A [`Join`] with its cgroup2 group open, made before the fork that uses it.
#[derive(Debug)]
pub struct Ready {
    tasks: Vec<PathBuf>,
    v2: Option<File>,
}

/// Which side of [`Ready::fork`] this is.
pub enum Forked {
    /// The parent, with the child's pid.
    Parent(i32),
    /// The child, in the cgroup2 group; `Err` when it is not (an old kernel's write failed).
    Child(io::Result<()>),
}

impl Ready {
    /// Moves the calling single-threaded process into every v1 hierarchy's group.
    pub fn join_v1(&self) -> io::Result<()> {
        for file in &self.tasks {
            std::fs::write(file, "0").map_err(|e| {
                io::Error::new(e.kind(), format!("join cgroup {}: {e}", file.display()))
            })?;
        }
        Ok(())
    }

    /// Forks a child that is in the cgroup2 group from its start (its v1 groups are the
    /// caller's). The caller must be single-threaded ([`process::fork_into_cgroup`]).
    pub fn fork(&self) -> io::Result<Forked> {
        let Some(group) = &self.v2 else {
            return Ok(match process::fork()? {
                ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
                ForkResult::Child => Forked::Child(Ok(())),
            });
        };
        if let Some(forked) = process::fork_into_cgroup(group.as_fd())? {
            return Ok(match forked {
                ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
                ForkResult::Child => Forked::Child(Ok(())),
            });
        }
        Ok(match process::fork()? {
            ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
            ForkResult::Child => Forked::Child(write_procs(group)),
        })
    }
}

/// The old way in: `0` to the group's `cgroup.procs`, opened beneath the group's descriptor.
fn write_procs(group: &File) -> io::Result<()> {
    let fd = nix::fcntl::openat(
        group,
        "cgroup.procs",
        OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    let mut file = File::from(fd);
    file.write_all(b"0")
        .map_err(|e| io::Error::new(e.kind(), format!("join the cgroup2 group: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_cgroup2_forks_plainly_and_joins_nothing_there() {
        let ready = Join::default().ready().unwrap();
        assert!(ready.v2.is_none());
        assert!(ready.join_v1().is_ok());
    }
}
