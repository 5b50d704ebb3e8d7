//! Mounts: the container's overlay on its store mount point, and everything inside the
//! container's tree onto [`Target`]s, descriptors `sys::beneath` resolved without following a
//! link; binds through `open_tree`, `mount_setattr` and `move_mount`; pivot_root.
//!
//! Inside the tree nothing here takes a path string: a new filesystem is mounted onto
//! `/proc/self/fd/N` of its target (the kernel follows that to the checked inode), and a bind is
//! a detached copy of its source attached onto the target's descriptor.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use super::beneath::{Root, Target};

/// Makes every mount below / private in the caller's (new) mount namespace, so nothing the
/// container mounts propagates back to the host.
pub fn make_rprivate() -> io::Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Mounts a filesystem of `fstype` at `target`, a host-controlled path (the store's mount point
/// of the container's root). Inside the tree use [`mount_fs_at`].
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    nix::mount::mount(Some(source), target, Some(fstype), flags, data).map_err(io::Error::from)
}

/// Binds the directory `source` onto `target`, both host-controlled paths (a layer of the store
/// and its mount point), with the mount attributes `attrs` (`MOUNT_ATTR_NODEV`) added: like
/// [`bind`], set before the attach, and only added (the host mount's locked flags stay).
pub fn bind_root(source: &Path, target: &Path, attrs: u64) -> io::Result<()> {
    let tree = detached_copy(source, attrs, false)?;
    attach_path(tree.as_raw_fd(), target)
}

/// Mounts a filesystem of `fstype` onto `target` in the container's tree.
pub fn mount_fs_at(
    source: &str,
    target: &Target,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    mount_fs(source, &target.fd_path(), fstype, flags, data)
}

/// Binds `source` onto `target`: a detached copy of the mount at `source` (with the mounts
/// below it when `recursive`), made read-only before it is attached when asked, so it is never
/// seen writable. `source` is a host path fleet-node chose (`/dev/null`, the host template's
/// /usr) or a [`Target::fd_path`]. Only the read-only flag is added: the flags the kernel locks
/// on a mount inside a user namespace (nosuid, nodev, noexec, atime) are kept as they are.
pub fn bind(source: &Path, target: &Target, readonly: bool, recursive: bool) -> io::Result<()> {
    let attrs = if readonly { libc::MOUNT_ATTR_RDONLY } else { 0 };
    bind_with(source, target, attrs, recursive)
}

/// Binds the single mount at `source` (no mounts below it) onto `target` read-only, nosuid,
/// nodev and noexec: a view of host state the container may read and nothing more (its cgroup
/// directories).
pub fn bind_locked(source: &Path, target: &Target) -> io::Result<()> {
    let attrs = libc::MOUNT_ATTR_RDONLY
        | libc::MOUNT_ATTR_NOSUID
        | libc::MOUNT_ATTR_NODEV
        | libc::MOUNT_ATTR_NOEXEC;
    bind_with(source, target, attrs, false)
}

/// [`bind`] with the mount attributes `attrs` (`MOUNT_ATTR_*`) added before the attach.
fn bind_with(source: &Path, target: &Target, attrs: u64, recursive: bool) -> io::Result<()> {
    let tree = detached_copy(source, attrs, recursive)?;
    attach(tree.as_raw_fd(), target)
}

/// A detached copy of the mount at `source` (and those below it when `recursive`) with `attrs`
/// added.
fn detached_copy(source: &Path, attrs: u64, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let tree = open_tree(source, flags)?;
    if attrs != 0 {
        let attr = libc::mount_attr {
            attr_set: attrs,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        let mut at = libc::AT_EMPTY_PATH;
        if recursive {
            at |= libc::AT_RECURSIVE;
        }
        // SAFETY: mount_setattr reads `attr` (a live, correctly sized mount_attr) and the empty
        // path; `tree` is a descriptor we own for the whole call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                tree.as_raw_fd(),
                c"".as_ptr(),
                at,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(tree)
}

/// `open_tree(AT_FDCWD, source, flags)`: a descriptor of the mount at `source`, or of a detached
/// copy of it with `OPEN_TREE_CLONE`.
fn open_tree(source: &Path, flags: u32) -> io::Result<OwnedFd> {
    let c = c_path(source)?;
    // SAFETY: open_tree reads the NUL-terminated path `c` (alive for the call) and returns a new
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A detached bind of the single file `source` (a host device node), its last component never
/// followed as a symlink: attach it with [`attach`] (in another mount namespace too, as the
/// mount belongs to none until then), `fstat` it to see what was cloned.
pub fn clone_node(source: &Path) -> io::Result<OwnedFd> {
    open_tree(
        source,
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_SYMLINK_NOFOLLOW as u32,
    )
}

/// Lazily unmounts the mount whose root `target` is, by its descriptor: the path given to
/// umount2 is `self/fd/N` relative to `proc`, a descriptor of the host's procfs opened before
/// the caller joined a container's mount namespace, so nothing in that namespace (which
/// container root may mount over) is looked up.
pub fn unmount_target(target: &Target, proc: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::fchdir(proc)?;
    let link = format!("self/fd/{}", target.as_fd().as_raw_fd());
    nix::mount::umount2(link.as_str(), MntFlags::MNT_DETACH).map_err(io::Error::from)
}

/// Attaches the detached mount behind descriptor `tree` onto `target`'s descriptor.
pub fn attach(tree: RawFd, target: &Target) -> io::Result<()> {
    move_mount(
        tree,
        target.as_fd().as_raw_fd(),
        c"",
        libc::MOVE_MOUNT_T_EMPTY_PATH,
    )
}

/// Attaches the detached mount `tree` at `path` (a host-controlled path outside the tree).
pub fn attach_path(tree: RawFd, path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    move_mount(tree, libc::AT_FDCWD, &c, 0)
}

/// move_mount of the detached mount `from` (its descriptor) to `to_path` relative to `to_dir`.
fn move_mount(
    from: RawFd,
    to_dir: RawFd,
    to_path: &std::ffi::CStr,
    to_flags: u32,
) -> io::Result<()> {
    // SAFETY: move_mount reads two NUL-terminated paths that live for the call; the
    // descriptors are only numbers to the kernel (a wrong one is EBADF or EINVAL).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to_dir,
            to_path.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | to_flags,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Changes the flags of the mount whose root is `target` (MS_REMOUNT with `flags`): resolve the
/// target again after mounting, so it names the new mount and not what it covers.
pub fn remount(target: &Target, flags: MsFlags) -> io::Result<()> {
    nix::mount::mount(
        None::<&str>,
        &target.fd_path(),
        None::<&str>,
        MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Makes the tree at `root` the root of the caller's mount namespace and detaches the old root,
/// using the `pivot_root(".", ".")` idiom so no directory for the old root is needed.
pub fn pivot_into(root: &Root) -> io::Result<()> {
    root.chdir()?;
    nix::unistd::pivot_root(".", ".")?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// Lazily unmounts `target`, a host path (a symlink as its last component is not followed).
pub fn unmount(target: &Path) -> io::Result<()> {
    nix::mount::umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
        .map_err(io::Error::from)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

pub use nix::mount::MsFlags as Flags;
