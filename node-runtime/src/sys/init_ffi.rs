//! The libc calls of `fleet-init`, the builtin PID 1 (`init/program.rs`): signal masks, waiting
//! for signals, reaping, forwarding, the subreaper flag, and the directory-relative open and
//! rename of its console keeper mode (`init/console.rs`). That program is built on its own by
//! build.rs (static, std only, no crates), so it declares these few glibc functions itself; they
//! live here because this directory is the only place with `unsafe`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_ulong};

/// glibc's `sigset_t` (1024 bits).
#[repr(C)]
pub struct SigSet([c_ulong; 16]);

/// glibc's `siginfo_t` (128 bytes); only the signal number is read.
#[repr(C, align(8))]
struct SigInfo {
    signo: c_int,
    _rest: [c_int; 31],
}

unsafe extern "C" {
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigdelset(set: *mut SigSet, sig: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwaitinfo(set: *const SigSet, info: *mut SigInfo) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn prctl(option: c_int, arg2: c_ulong, arg3: c_ulong, arg4: c_ulong, arg5: c_ulong) -> c_int;
    fn getpid() -> c_int;
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int;
    fn renameat(olddirfd: c_int, old: *const c_char, newdirfd: c_int, new: *const c_char) -> c_int;
}

const SIG_BLOCK: c_int = 0;
const SIG_SETMASK: c_int = 2;
const WNOHANG: c_int = 1;
const PR_SET_CHILD_SUBREAPER: c_int = 36;

/// SIGCHLD.
pub const SIGCHLD: i32 = 17;

/// Signals left unblocked: the synchronous faults (which must kill this process, not queue)
/// and the terminal stops, as tini leaves them.
const UNBLOCKED: &[c_int] = &[4, 5, 6, 7, 8, 11, 31, 21, 22];

/// Blocks every other signal and returns the set to wait on. Blocked signals are queued even
/// for a pid namespace's init, which the kernel would otherwise drop without a handler.
pub fn block_signals() -> SigSet {
    let mut set = SigSet([0; 16]);
    // SAFETY: `set` is a valid, writable sigset_t; the calls only fill it and set this thread's
    // mask from it, with no old mask asked for.
    unsafe {
        sigfillset(&mut set);
        for &sig in UNBLOCKED {
            sigdelset(&mut set, sig);
        }
        sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

/// Waits for one signal of `set` and returns its number.
pub fn wait_signal(set: &SigSet) -> i32 {
    loop {
        let mut info = SigInfo {
            signo: 0,
            _rest: [0; 31],
        };
        // SAFETY: both pointers refer to live values of the sizes glibc expects.
        let sig = unsafe { sigwaitinfo(set, &mut info) };
        if sig > 0 {
            return sig;
        }
        // EINTR (a stop and continue): wait again.
    }
}

/// Reaps one exited child without blocking: its pid and raw wait status.
pub fn reap() -> Option<(i32, i32)> {
    let mut status = 0;
    // SAFETY: `status` is a valid int to write the wait status into.
    let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
    (pid > 0).then_some((pid, status))
}

/// Sends `sig` to `pid` (a gone process is no error worth reporting).
pub fn forward(pid: i32, sig: i32) {
    // SAFETY: kill has no memory effects; a bad pid only returns ESRCH.
    unsafe {
        kill(pid, sig);
    }
}

/// Makes `command` start with no signal blocked (this process blocks nearly all, and a spawned
/// child inherits the mask; std's spawn does not reset it).
pub fn unblock_signals_in(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before exec and only calls sigprocmask, which is
    // async-signal-safe, on a local empty set.
    unsafe {
        command.pre_exec(|| {
            let empty = SigSet([0; 16]);
            if sigprocmask(SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// This process's pid.
pub fn pid() -> i32 {
    // SAFETY: getpid cannot fail and touches no memory.
    unsafe { getpid() }
}

/// Makes this process the reaper of its orphaned descendants (when it is not PID 1).
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain integer; no pointers.
    unsafe {
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// The descriptor `fd` given on the command line, as a file this process owns.
pub fn inherited_fd(fd: i32) -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: fleet-node passes this descriptor open, and nothing else in this process owns it.
    unsafe { std::fs::File::from_raw_fd(fd) }
}

const O_WRONLY: c_int = 0o1;
const O_CREAT: c_int = 0o100;
const O_APPEND: c_int = 0o2000;
const O_NOFOLLOW: c_int = 0o400000;
const O_CLOEXEC: c_int = 0o2000000;

/// Opens `name` in directory `dir` for appending, made 0600 when missing; a symbolic link there
/// is refused (ELOOP), never followed.
pub fn open_append_in(dir: i32, name: &CStr) -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        openat(
            dir,
            name.as_ptr(),
            O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Renames `from` to `to`, both in directory `dir` (replacing `to`).
pub fn rename_in(dir: i32, from: &CStr, to: &CStr) -> std::io::Result<()> {
    // SAFETY: both names are NUL-terminated strings that outlive the call.
    if unsafe { renameat(dir, from.as_ptr(), dir, to.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
