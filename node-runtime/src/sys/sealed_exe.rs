//! fleet-node's own binary out of a container's reach (CVE-2019-5736). A process that
//! joins a container and then calls execve is still fleet-node until the new image is loaded,
//! and a command the container controls can be a script starting `#!/proc/self/exe`: the
//! kernel then runs the host's fleet-node binary inside the container, as a process container
//! root may open `/proc/PID/exe` of (in a privileged container its owner, host root, and its
//! capabilities match). Reopened for writing through `/proc/self/fd`, that handle overwrote the
//! host's binary once no fleet-node process ran it (`tests/init.rs`, the exe test).
//!
//! [`reexec_read_only`] closes that: the process executes itself again from a read-only bind of
//! its binary that is mounted nowhere (`open_tree(OPEN_TREE_CLONE)`, then `mount_setattr`
//! `MOUNT_ATTR_RDONLY`, then `execveat(AT_EMPTY_PATH)`), as runc does since 1.2. `/proc/PID/exe`
//! of it and of everything it executes as itself is then a file on a read-only mount: an open
//! for writing fails with EROFS, and container root, without CAP_SYS_ADMIN and behind seccomp,
//! cannot make that mount writable. It costs one more execve of fleet-node per exec.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Set in the environment of the execution from the read-only bind, so that a kernel that
/// ignored the read-only flag ends in an error and not in a loop. The container's command never
/// sees it: exec builds the command's environment from the spec.
const MARK: &str = "FLEET_NODE_SEALED_EXE";

/// Whether this process's binary lies on a read-only mount.
pub fn runs_read_only() -> io::Result<bool> {
    let exe = std::fs::File::open("/proc/self/exe")?;
    let st = nix::sys::statvfs::fstatvfs(&exe).map_err(io::Error::from)?;
    Ok(st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Returns at once when the binary already lies on a read-only mount (or the caller is not
/// root); otherwise replaces the
/// process with the same program, arguments and environment executed from a read-only,
/// detached bind of the binary, and returns only on failure.
pub fn reexec_read_only() -> io::Result<()> {
    // Not root: such a process cannot join a container, and cannot make the bind either.
    if !nix::unistd::geteuid().is_root() || runs_read_only()? {
        return Ok(());
    }
    if std::env::var_os(MARK).is_some() {
        return Err(io::Error::other(
            "executed from a read-only bind of itself, its binary is still on a writable mount",
        ));
    }
    // SAFETY: open_tree reads the NUL-terminated path (a static string) and returns a new
    // descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(context("open_tree /proc/self/exe"));
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `attr` (a live, correctly sized mount_attr) and the empty
    // path; `tree` is a descriptor we own for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(context(
            "mount_setattr MOUNT_ATTR_RDONLY on the bind of /proc/self/exe",
        ));
    }
    let argv = cstrings(std::env::args_os())?;
    let mut env: Vec<OsString> = std::env::vars_os()
        .filter(|(k, _)| k != MARK)
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            kv
        })
        .collect();
    env.push(format!("{MARK}=1").into());
    let env = cstrings(env)?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: execveat reads the empty path and the two NULL-terminated arrays of pointers to
    // NUL-terminated strings, all alive for the call (`argv`, `env` and the pointer vectors are
    // owned here); on success it does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            tree.as_raw_fd(),
            c"".as_ptr(),
            argv_ptrs.as_ptr(),
            env_ptrs.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(context("execveat the read-only bind of /proc/self/exe"))
}

fn context(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn cstrings(items: impl IntoIterator<Item = OsString>) -> io::Result<Vec<CString>> {
    items
        .into_iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "contains NUL"))
        })
        .collect()
}
