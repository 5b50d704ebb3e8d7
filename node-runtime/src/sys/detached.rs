//! A filesystem mounted nowhere yet, through the new mount API (`fsopen`, `fsconfig`,
//! `fsmount`; Linux 5.2+, and for filesystems without their own mount context, such as overlayfs
//! before 6.5, the kernel passes the options on as a legacy mount would). The mount exists only
//! behind its descriptor, propagates nowhere, and is attached later with
//! [`super::mount::attach`]. It is made with the caller's credentials at the time, which is the
//! point: init makes one while it is still host uid 0 and attaches it after it became root of the
//! container's user namespace. nix wraps none of these calls, so they are raw syscalls with libc's
//! numbers.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn c_str(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "contains NUL"))
}

/// A new `fstype` filesystem with `options` (`key=value` or `flag`, as mount(8) takes them, one
/// each), as a detached mount with the `MOUNT_ATTR_*` flags `attrs`. Close-on-exec.
pub fn mount(fstype: &str, options: &[&str], attrs: u64) -> io::Result<OwnedFd> {
    let name = c_str(fstype)?;
    // SAFETY: fsopen reads the NUL-terminated name (alive for the call) and returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    let context = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for option in options {
        let (key, value) = match option.split_once('=') {
            Some((k, v)) => (c_str(k)?, Some(c_str(v)?)),
            None => (c_str(option)?, None),
        };
        let (cmd, value_ptr) = match &value {
            Some(v) => (libc::FSCONFIG_SET_STRING, v.as_ptr()),
            None => (libc::FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: fsconfig reads the NUL-terminated key and value (or no value for a flag), both
        // alive for the call, on a descriptor we own.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                context.as_raw_fd(),
                cmd,
                key.as_ptr(),
                value_ptr,
                0,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{option}: {e}")));
        }
    }
    // SAFETY: as above, with no key and no value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount takes the context descriptor we own and two flag words; no pointers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
