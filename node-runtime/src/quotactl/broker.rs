//! The broker's loop: each notified quota call is read (the caller's name or descriptor, its
//! buffer, its credentials), checked as still waiting, decided ([`super::decide`]), made on
//! the host against the disk's own device, and answered. Everything read from the caller is
//! read once into the broker's memory and used from there, so a caller changing its memory
//! meanwhile changes nothing.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::call::{Call, Op, Target};
use super::decide::{Caller, Container, Named, decide, next_id_inside};
use super::found::userns_of;
use crate::sys::seccomp_notify::{self, Notification};

/// Longest device name read from a caller (PATH_MAX).
const NAME_MAX: usize = 4096;
/// Where `if_nextdqblk` keeps the id the kernel found.
const NEXT_ID_AT: usize = 68;

/// A listener and the container whose quota calls it answers.
pub struct Broker {
    /// The quota calls' listener, from the container's filter.
    pub listener: OwnedFd,
    /// The container's disk and ids.
    pub container: Container,
    /// The disk's loop device on the host (from losetup, never from the container).
    pub host_device: CString,
}

impl Broker {
    /// Answers calls until no process of the filter is left (the listener hangs up: the
    /// container stopped). A caller that went away meanwhile is skipped.
    pub fn serve(&self) -> io::Result<()> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let events = fds[0].revents().unwrap_or(PollFlags::empty());
            if !events.contains(PollFlags::POLLIN) && events.contains(PollFlags::POLLHUP) {
                return Ok(());
            }
            let n = match seccomp_notify::recv(self.listener.as_fd()) {
                Ok(n) => n,
                // The caller was killed between the notification and RECV.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.answer(&n);
        }
    }

    /// Decides and answers one notification.
    pub fn answer(&self, n: &Notification) {
        let (val, errno) = match self.handle(n) {
            Ok(v) => (v, 0),
            Err(errno) => (0, errno),
        };
        // ENOENT: the caller is gone; nothing waits for the answer.
        let _ = seccomp_notify::respond(self.listener.as_fd(), n.id, val, errno);
    }

    fn handle(&self, n: &Notification) -> Result<i64, i32> {
        let call = Call::decode(n.nr, n.args).ok_or(libc::ENOSYS)?;
        let mem = File::options()
            .read(true)
            .write(true)
            .open(format!("/proc/{}/mem", n.pid))
            .map_err(|_| libc::ESRCH)?;
        let caller = caller(n.pid).map_err(|_| libc::ESRCH)?;
        let name;
        let named = match call.target {
            Target::Special(0) => Named::Special(None),
            Target::Special(at) => {
                name = read_name(&mem, at)?;
                Named::Special(Some(&name))
            }
            Target::Fd(fd) => Named::FdOn(fd_device(n.pid, fd)?),
        };
        let op = call.op();
        let mut buf = vec![0u8; op.map_or(0, Op::buffer_len)];
        if op.is_some_and(Op::reads_buffer) {
            mem.read_exact_at(&mut buf, call.addr)
                .map_err(|_| libc::EFAULT)?;
        }
        // Everything of the caller's is read: from here on, a reused pid cannot matter.
        if !seccomp_notify::id_valid(self.listener.as_fd(), n.id) {
            return Err(libc::ESRCH);
        }
        let plan = decide(&call, named, &caller, &self.container)?;
        let cmd = Call::host_cmd(plan.op, plan.ty);
        let rc = seccomp_notify::quotactl(cmd, &self.host_device, plan.id, &mut buf)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        if plan.op == Op::GetNextQuota {
            let host = u32::from_ne_bytes(buf[NEXT_ID_AT..NEXT_ID_AT + 4].try_into().unwrap());
            let inside = next_id_inside(&self.container, plan.ty, host).ok_or(libc::ENOENT)?;
            buf[NEXT_ID_AT..NEXT_ID_AT + 4].copy_from_slice(&inside.to_ne_bytes());
        }
        if !buf.is_empty() && !plan.op.reads_buffer() {
            if !seccomp_notify::id_valid(self.listener.as_fd(), n.id) {
                return Err(libc::ESRCH);
            }
            mem.write_all_at(&buf, call.addr)
                .map_err(|_| libc::EFAULT)?;
        }
        Ok(rc)
    }
}

/// The device name at `at` in the caller's memory, up to its NUL.
fn read_name(mem: &File, at: u64) -> Result<Vec<u8>, i32> {
    let mut name = Vec::new();
    let mut chunk = [0u8; 256];
    while name.len() < NAME_MAX {
        let got = mem
            .read_at(&mut chunk, at + name.len() as u64)
            .map_err(|_| libc::EFAULT)?;
        if got == 0 {
            return Err(libc::EFAULT);
        }
        if let Some(end) = chunk[..got].iter().position(|&b| b == 0) {
            name.extend_from_slice(&chunk[..end]);
            return Ok(name);
        }
        name.extend_from_slice(&chunk[..got]);
    }
    Err(libc::ENAMETOOLONG)
}

/// The device of the file behind descriptor `fd` of thread `pid` (a copy through its pidfd).
fn fd_device(pid: u32, fd: i32) -> Result<u64, i32> {
    let pidfd = crate::sys::process::pidfd_open(pid as i32).map_err(|_| libc::ESRCH)?;
    let copy = seccomp_notify::pidfd_getfd(pidfd.as_fd(), fd).map_err(|_| libc::EBADF)?;
    let st = nix::sys::stat::fstat(&copy).map_err(|_| libc::EBADF)?;
    Ok(st.st_dev)
}

/// The caller's user namespace and effective ids, as the host sees them.
fn caller(pid: u32) -> io::Result<Caller> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|v| v.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "no Uid/Gid in status");
    let euid = *field("Uid:").get(1).ok_or_else(bad)?;
    let egid = *field("Gid:").get(1).ok_or_else(bad)?;
    let mut groups = field("Groups:");
    groups.push(egid);
    Ok(Caller {
        userns: userns_of(Path::new(&format!("/proc/{pid}/ns/user")))?,
        euid,
        groups,
    })
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
