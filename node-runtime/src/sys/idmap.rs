//! Idmapped mounts through the new mount API (Linux 5.12+; under overlayfs 5.19+): a detached
//! copy of the mount at a path, whose files are seen through a user namespace's id map
//! (`open_tree(OPEN_TREE_CLONE)` then `mount_setattr(MOUNT_ATTR_IDMAP)`), attached later by
//! `super::mount::attach_path`. nix wraps neither call, so they are raw syscalls with libc's
//! numbers.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// A detached, read-only copy of the mount at `path` (the directory and what is below it on the
/// same mount) in which every owner is mapped through `userns`: host id `k` appears as the id
/// that `userns` maps `k` to. For a user namespace mapping `0 <base> 65536`, a file owned by
/// host root is owned by `base` (container root) when seen through the copy. The copy is
/// close-on-exec and goes away with its last descriptor unless it is attached.
pub fn idmapped_clone(path: &Path, userns: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let c = c_path(path)?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: open_tree reads the NUL-terminated path `c` (alive for the call) and returns a new
    // descriptor or -1; it takes no other pointers.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP | libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let empty = c"";
    // SAFETY: mount_setattr reads `attr` (a live, correctly sized mount_attr) and the empty path;
    // `tree` is a descriptor we own for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(tree)
}
