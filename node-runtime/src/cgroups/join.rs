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
        let (forked, must_write) = match &self.v2 {
            None => (process::fork()?, None),
            Some(group) => match process::fork_into_cgroup(group.as_fd())? {
                Some(forked) => (forked, None),
                None => (process::fork()?, Some(group)),
            },
        };
        Ok(match forked {
            ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
            ForkResult::Child => Forked::Child(must_write.map_or(Ok(()), write_procs)),
        })
    }
}

/// The old way in: `0` to the group's `cgroup.procs`, opened beneath the group's descriptor.
fn write_procs(group: &File) -> io::Result<()> {
    let failed = |e: io::Error| io::Error::new(e.kind(), format!("join the cgroup2 group: {e}"));
    let fd = nix::fcntl::openat(
        group,
        "cgroup.procs",
        OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| failed(e.into()))?;
    File::from(fd).write_all(b"0").map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::test_support::TestCgroup;

    /// Forks with `fork` a child that exits 0 when its cgroup2 line is `want` (reading it
    /// without allocating: the test process has other threads), and returns its exit code.
    fn child_sees(fork: impl FnOnce() -> io::Result<Forked>, want: &[u8]) -> i32 {
        match fork().unwrap() {
            Forked::Child(joined) => {
                let mut buf = [0u8; 4096];
                let seen = joined.is_ok()
                    && nix::fcntl::open(c"/proc/self/cgroup", OFlag::O_RDONLY, Mode::empty())
                        .ok()
                        .and_then(|fd| nix::unistd::read(&fd, &mut buf).ok())
                        .is_some_and(|n| buf[..n].split(|&b| b == b'\n').any(|l| l == want));
                process::exit_now(if seen { 0 } else { 1 })
            }
            Forked::Parent(child) => process::wait_child(child).unwrap(),
        }
    }

    #[test]
    fn a_child_is_born_in_the_cgroup2_group_and_one_of_an_old_kernel_writes_its_way_in() {
        let Some(cg) = TestCgroup::unified() else {
            return;
        };
        let dir = cg.unified_dir().to_path_buf();
        let want = format!("0::/{}", dir.file_name().unwrap().to_string_lossy()).into_bytes();
        let ready = Join {
            tasks: Vec::new(),
            v2: Some(dir.clone()),
        }
        .ready()
        .unwrap();
        assert_eq!(child_sees(|| ready.fork(), &want), 0, "born in {dir:?}");
        // The fallback of a kernel before CLONE_INTO_CGROUP: a plain fork that writes.
        let group = ready.v2.as_ref().unwrap();
        let old_kernel = || {
            Ok(match process::fork()? {
                ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
                ForkResult::Child => Forked::Child(write_procs(group)),
            })
        };
        assert_eq!(child_sees(old_kernel, &want), 0, "moved into {dir:?}");
        // And a plain fork without either stays where the test runs.
        let plain = || {
            Ok(match process::fork()? {
                ForkResult::Parent { child } => Forked::Parent(child.as_raw()),
                ForkResult::Child => Forked::Child(Ok(())),
            })
        };
        assert_eq!(child_sees(plain, &want), 1, "not in {dir:?} by chance");
    }
}
