//! Kernel keyrings: each container process starts with a session keyring of its own.
//!
//! Keyrings are not namespaced by the mount or pid namespace: without this, init and exec'd
//! commands inherit the session keyring of whoever ran fleet-node (an SSH login's, or host
//! root's), and a key added inside could be read on the host.

use std::io;

/// Replaces the caller's session keyring with a new anonymous one (KEYCTL_JOIN_SESSION_KEYRING
/// with no name), which links nothing of the caller's. A kernel built without keyrings
/// (ENOSYS) has nothing to share, so that counts as done.
pub fn join_fresh_session() -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a null name reads no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc >= 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOSYS) {
        return Ok(());
    }
    Err(err)
}
