//! Process plumbing: fork, pidfds, exit without unwinding, signal reset and descriptor hygiene.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::Pid;

pub use nix::unistd::ForkResult;

/// Forks the calling process.
///
/// The child may allocate (glibc resets its malloc locks after fork) but must not take Rust std
/// locks that another thread could have held (stdout, stderr, env writes) and must leave through
/// [`exit_now`] or an exec.
pub fn fork() -> io::Result<ForkResult> {
    // SAFETY: callers follow the contract above: the child only performs syscalls, plain
    // allocation and writes to raw descriptors before exec or `_exit`.
    unsafe { nix::unistd::fork() }.map_err(io::Error::from)
}

/// clone3's argument, `struct clone_args` of linux/sched.h up to `cgroup` (CLONE_ARGS_SIZE_VER2);
/// a caller that needs nothing past `tls` passes [`CLONE_ARGS_SIZE_VER0`] as its size.
#[repr(C)]
#[derive(Default)]
pub(crate) struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// The size of clone3's first `struct clone_args` (Linux 5.3), up to `tls`.
pub(crate) const CLONE_ARGS_SIZE_VER0: usize = 64;

/// CLONE_INTO_CGROUP of linux/sched.h (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks like [`fork`], with the child in the cgroup v2 group open at `group` from its first
/// instruction (clone3 with `CLONE_INTO_CGROUP`). The kernel then takes only the read side of
/// its global threadgroup lock, where a write of `0` to the group's `cgroup.procs` takes the
/// write side and waits for an RCU grace period first (6-18 ms measured here, per start).
/// `Ok(None)` when the kernel has no such clone (clone3 came in 5.3, the flag in 5.7): the
/// caller forks and joins by writing.
///
/// The caller must be single-threaded (a forked child, say): a raw clone3 skips glibc's fork
/// handlers, which is harmless only when no other thread can hold a lock (malloc's among them)
/// that the child would then wait on forever. The child's contract is [`fork`]'s.
pub fn fork_into_cgroup(group: BorrowedFd) -> io::Result<Option<ForkResult>> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: group.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: with no stack given clone3 behaves as fork: the child continues here on a copy
    // of this address space. `args` is a valid clone_args of the size passed, read by the
    // kernel before it returns. The caller is single-threaded (the contract above), so the
    // child inherits no lock held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        0 => Ok(Some(ForkResult::Child)),
        pid if pid > 0 => Ok(Some(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        })),
        _ => {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL) => Ok(None),
                _ => Err(err),
            }
        }
    }
}

/// Ends the calling process at once, without running destructors or atexit handlers (which
/// belong to the parent's copy of the state).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// Opens a pidfd for `pid`; it becomes readable when the process exits, whoever its parent is.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until the process behind `pidfd` exits or `timeout` passes; true when it exited.
pub fn wait_pidfd(pidfd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    wait_readable(pidfd.as_fd(), timeout)
}

/// Waits until `fd` is readable (or at its end) or `timeout` passes; true when it is.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and nfds is 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(n > 0);
    }
}

/// Sends `signal` through a pidfd, which cannot hit a recycled pid.
pub fn pidfd_signal(pidfd: &OwnedFd, signal: Signal) -> io::Result<()> {
    // SAFETY: pidfd_send_signal takes a descriptor, a signal number, a null siginfo and flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every descriptor from `first` upwards close-on-exec, so nothing of fleet-node leaks
/// into what is exec'd next (falls back to a loop over /proc/self/fd on old kernels).
pub fn cloexec_from(first: i32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd >= first)
            .collect();
        for fd in fds {
            // SAFETY: setting FD_CLOEXEC on a descriptor number is harmless even if it is stale.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Gives the process default signal dispositions for the signals Rust's runtime changes (SIGPIPE
/// is ignored by std) and an empty signal mask, as a fresh init expects.
pub fn reset_signals() {
    for sig in [
        Signal::SIGPIPE,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        // SAFETY: installing SIG_DFL has no handler to be unsafe about.
        unsafe {
            let _ = nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl);
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Makes the process non-dumpable so that, until it execs, no process of the container can open
/// its /proc/<pid>/exe (the fleet-node binary) or ptrace it.
pub fn set_non_dumpable() {
    // SAFETY: PR_SET_DUMPABLE takes an integer flag and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Replaces the process image; only returns on failure.
pub fn execve(path: &CString, argv: &[CString], env: &[CString]) -> io::Error {
    match nix::unistd::execve(path, argv, env) {
        Ok(never) => match never {},
        Err(e) => io::Error::from(e),
    }
}

/// In a forked child: puts each of `fds` onto the descriptor its position names (stdin,
/// stdout, stderr, then 3, 4, ...), marks every higher one close-on-exec, resets signals and
/// execs `path`; exits 127 when a step fails. The hand-off of the node's helpers (the console
/// keeper, the quota broker) to their own program.
pub fn exec_with(fds: &[i32], path: &CString, argv: &[CString], env: &[CString]) -> ! {
    for (to, &from) in (0..).zip(fds) {
        if dup_onto(from, to).is_err() {
            exit_now(127);
        }
    }
    cloexec_from(fds.len() as i32);
    reset_signals();
    let _ = execve(path, argv, env);
    exit_now(127)
}

/// Duplicates `from` onto descriptor number `to` (clearing close-on-exec on it).
pub fn dup_onto(from: i32, to: i32) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the descriptor table.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec copy of `fd` numbered `min` or above, so that later dup2s onto lower numbers
/// never overwrite it.
pub fn dup_above(fd: BorrowedFd<'_>, min: i32) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only adds a descriptor to the table.
    let raw = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` was just made by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Writes all of `buf` to a raw descriptor (used by forked children, which avoid std's locks).
pub fn write_all_raw(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid slice for its length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n <= 0 {
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Returns whether the process exists (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), used to tell
/// a container's init from a later process that got the same pid.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Waits for a child of this process and returns its exit code (128 + signal when killed).
pub fn wait_child(pid: i32) -> io::Result<i32> {
    use nix::sys::wait::{WaitStatus, waitpid};
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends `signal` to `pid`, treating an already-gone process as success.
pub fn kill(pid: i32, signal: Signal) -> io::Result<()> {
    match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Starts a new session so the process has no controlling terminal and no tie to the caller's.
pub fn setsid() -> io::Result<()> {
    nix::unistd::setsid().map(drop).map_err(io::Error::from)
}

/// Sets real, effective and saved uid and gid (used as root of a fresh user namespace).
pub fn become_root_in_userns() -> io::Result<()> {
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g)?;
    nix::unistd::setresuid(root_u, root_u, root_u)?;
    Ok(())
}

/// The kernel's id of the current boot (`/proc/sys/kernel/random/boot_id`): it changes at every
/// boot, so a record made in an earlier one is recognised as such.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The open-file limit this process started with, when [`raise_open_files_limit`] raised it.
static STARTED_WITH_NOFILE: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();

/// Raises the soft open-file limit to the hard one (the supervisor holds a pidfd per running
/// container); returns the new soft limit. Containers started from this process get the limit
/// it started with back ([`restore_open_files_limit`]), as if started from a shell.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let _ = STARTED_WITH_NOFILE.set((soft, hard));
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => hard,
        Err(_) => soft,
    }
}

/// Puts back the open-file limit the process started with, if it was raised (in a forked child
/// before it becomes a container's init).
pub fn restore_open_files_limit() {
    if let Some((soft, hard)) = STARTED_WITH_NOFILE.get() {
        let _ = nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NOFILE,
            *soft,
            *hard,
        );
    }
}
