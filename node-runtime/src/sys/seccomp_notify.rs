//! seccomp user notification, the raw side of the quotactl broker: a filter installed with a
//! listener, the listener's three ioctls, and the two calls the broker makes on the host for a
//! notified caller (`pidfd_getfd` for a `quotactl_fd` descriptor, `quotactl` itself).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A notified system call: its id (for the answer and the validity check), the calling
/// thread (in the listener's pid namespace), the call's number, architecture and arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// The kernel's cookie for this call.
    pub id: u64,
    /// The calling thread's id.
    pub pid: u32,
    /// System call number.
    pub nr: i32,
    /// AUDIT_ARCH of the call.
    pub arch: u32,
    /// Its six arguments.
    pub args: [u64; 6],
}

/// Installs `program` on the calling thread with `SECCOMP_FILTER_FLAG_NEW_LISTENER` and returns
/// the listener: its `SECCOMP_RET_USER_NOTIF` answers wait for whoever holds it.
pub fn install_listening(program: &[libc::sock_filter]) -> io::Result<OwnedFd> {
    let fd = super::seccomp::install_with_flags(program, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("listener out of range"))?;
    // SAFETY: with NEW_LISTENER the kernel returns a fresh descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits for the next notification on `listener`.
pub fn recv(listener: BorrowedFd<'_>) -> io::Result<Notification> {
    // SAFETY: seccomp_notif is plain old data; the kernel wants it zeroed before RECV.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `n` is a valid, writable seccomp_notif for the call's duration.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
        arch: n.data.arch,
        args: n.data.args,
    })
}

/// Whether notification `id` still waits (its caller alive and in the call): checked after
/// reading anything of the caller's, since its pid may have been reused meanwhile.
pub fn id_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    // SAFETY: the ioctl reads one u64 from `id` and writes nothing.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id,
        ) == 0
    }
}

/// Answers notification `id`: the call returns `val`, or fails with `errno` when non-zero.
pub fn respond(listener: BorrowedFd<'_>, id: u64, val: i64, errno: i32) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error: -errno,
        flags: 0,
    };
    // SAFETY: `resp` is a valid seccomp_notif_resp for the call's duration.
    let rc = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A copy of descriptor `fd` of the process behind `pidfd`.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes a pidfd, a number and flags, and returns a new descriptor.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just made this descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(got as i32) })
}

/// `quotactl(cmd, special, id, buf)`: `buf` is the command's in- or output (`if_dqblk` and the
/// like), empty for the commands that take none (a null pointer is passed).
pub fn quotactl(cmd: u32, special: &CStr, id: u32, buf: &mut [u8]) -> io::Result<i64> {
    let addr = if buf.is_empty() {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr()
    };
    // SAFETY: `special` is NUL-terminated; `addr` is null or `buf`, which is as long as the
    // structure the command reads or writes (the caller sizes it by the command).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_quotactl,
            cmd as libc::c_int,
            special.as_ptr(),
            id as libc::c_int,
            addr,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Takes ownership of descriptor `fd`, which the kernel has just installed for this process
/// alone (one received with SCM_RIGHTS).
pub fn adopt(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: the caller passes a descriptor the kernel just gave it, owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
