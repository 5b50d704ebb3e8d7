//! Installing a seccomp BPF program and joining a fresh session keyring: the last steps before a
//! container's command is exec'd.

use std::io;

/// Installs `program` as a seccomp filter of the calling thread.
///
/// A process with CAP_SYS_ADMIN in its user namespace (init and exec'd commands are root there
/// with full capabilities until execve) may install a filter without no_new_privs, so setuid
/// programs inside (su, sudo, passwd) keep working, as in LXC and Docker. Without that
/// capability the kernel says EACCES; then no_new_privs is set and the install retried.
pub fn install(program: &[libc::sock_filter]) -> io::Result<()> {
    install_with_flags(program, 0).map(drop)
}

/// [`install`] with `SECCOMP_FILTER_FLAG_*` flags; returns what the kernel returned (the
/// listener's descriptor with `NEW_LISTENER`, else 0).
pub fn install_with_flags(program: &[libc::sock_filter], flags: libc::c_ulong) -> io::Result<i64> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?,
        filter: program.as_ptr().cast_mut(),
    };
    let set = || {
        // SAFETY: `prog` points at `program`, valid for the call; the kernel copies the
        // instructions and keeps no reference to our memory.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        }
    };
    let done = set();
    if done >= 0 {
        return Ok(done);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EACCES) {
        return Err(err);
    }
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    match set() {
        rc if rc >= 0 => Ok(rc),
        _ => Err(io::Error::last_os_error()),
    }
}
