//! A container's console: the pipe its init writes stdout and stderr to, and the keeper process
//! that drains it into `console.log` and `console.log.1` in the container's store directory,
//! within the node's bound (`--console-log-max`, 4 MiB by default: at most half in each file).
//! The keeper is fleet-init in its console mode (`init/console.rs`), started on the host in the
//! container's own cgroup (so a restart of the node's service does not end it, and destroy's
//! kill takes it with the container) and in a session of its own; it ends when the container's
//! last writer is gone.
//!
//! Why not a plain file: a container appending to a host file with no bound filled the store's
//! filesystem past its disk quota (docs/security.md, "Console log").

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;

use crate::cgroups::Forked;
use crate::error::{Error, Result, io_err};
use crate::sys::process;

/// The default bound of a container's two console log files together.
pub const DEFAULT_MAX: u64 = 4 << 20;

/// The older console log beside `console.log`.
pub const OLDER: &str = "console.log.1";

/// Descriptors of the keeper: below 10 nothing the dup2s below write onto is held.
const HIGH_FD: i32 = 10;

/// The keeper's starter: the node's child that forks the keeper and exits at once. Waited for
/// when this is dropped, so that the start goes on meanwhile (the fork of the keeper from a
/// copy of the node's memory was half a millisecond on the start's path).
pub(crate) struct Starter(i32);

impl Drop for Starter {
    fn drop(&mut self) {
        let _ = process::wait_child(self.0);
    }
}

/// Makes the console of container `name`: the keeper starts, and the returned file is the pipe's
/// write end, to become init's stdout and stderr; keep the [`Starter`] until init runs. `dir` is
/// the container's store directory, `program` fleet-init on the host, `join` how to get into the
/// container's groups.
pub(crate) fn open(
    name: &str,
    dir: &Path,
    program: &Path,
    join: &crate::cgroups::Join,
    max: u64,
) -> Result<(File, Starter)> {
    bound_existing(dir, max)?;
    // There from the start, for `fleet-node logs` and the restore's permissions; the keeper
    // appends to it.
    open_log(&dir.join("console.log"))?;
    let fail = |what: &str, e: std::io::Error| Error::Spawn {
        name: name.to_owned(),
        message: format!("console log keeper: {what}: {e}"),
    };
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe", e.into()))?;
    let dir_fd = File::open(dir).map_err(io_err("open", dir))?;
    let devnull = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(io_err("open", Path::new("/dev/null")))?;
    let high = |fd: &dyn AsFd| process::dup_above(fd.as_fd(), HIGH_FD);
    let (rd, dir_fd, devnull) = (
        high(&rd).map_err(|e| fail("dup", e))?,
        high(&dir_fd).map_err(|e| fail("dup", e))?,
        high(&devnull).map_err(|e| fail("dup", e))?,
    );
    let join = join.ready().map_err(|e| fail("open the cgroup", e))?;
    let path = CString::new(program.as_os_str().as_encoded_bytes())
        .map_err(|_| fail("program path", std::io::Error::other("NUL in path")))?;
    let argv = [
        CString::new(format!("fleet-console {name}")).expect("validated name: no NUL"),
        c"--console".to_owned(),
        CString::new(max.to_string()).expect("digits"),
    ];
    match process::fork().map_err(|e| fail("fork", e))? {
        process::ForkResult::Child => {
            // A session of its own, then a grandchild that init reaps: the node never waits.
            let _ = process::setsid();
            // The grandchild is forked into the cgroup2 group (the child is single-threaded).
            if let Ok(Forked::Child(_)) = join.fork() {
                let _ = join.join_v1();
                // The container's memory limit is no reason to lose its log.
                let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
                // stdin the pipe, stdout and stderr nowhere, 3 the directory of the logs.
                let fds = [&rd, &devnull, &devnull, &dir_fd].map(|fd| fd.as_raw_fd());
                process::exec_with(&fds, &path, &argv, &[]);
            }
            process::exit_now(0)
        }
        process::ForkResult::Parent { child } => Ok((File::from(wr), Starter(child.as_raw()))),
    }
}

/// Opens (creating) a log the node keeps beside a container, the console's or the quota
/// broker's, for appending: 0600, and never through a symlink.
pub(super) fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::store::FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err("open log", path))
}

/// Keeps logs written before the bound existed within it: each file over half the bound keeps
/// its last half (from a line start where there is one).
fn bound_existing(dir: &Path, max: u64) -> Result<()> {
    let half = (max / 2).max(1);
    for name in ["console.log", OLDER] {
        let path = dir.join(name);
        let Ok(mut file) = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        else {
            continue;
        };
        let len = file.metadata().map_err(io_err("stat", &path))?.len();
        if len <= half {
            continue;
        }
        let mut tail = Vec::with_capacity(half as usize);
        file.seek(SeekFrom::Start(len - half))
            .and_then(|_| Read::by_ref(&mut file).take(half).read_to_end(&mut tail))
            .map_err(io_err("read", &path))?;
        let from = tail.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        let tail = if from < tail.len() {
            &tail[from..]
        } else {
            &tail[..]
        };
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(tail))
            .map_err(io_err("write", &path))?;
    }
    Ok(())
}
