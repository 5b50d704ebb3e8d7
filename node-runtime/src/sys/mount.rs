//! Mounts: overlay, bind (read-only when asked), pseudo filesystems, pivot_root.

use std::io;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

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

/// Mounts a filesystem of `fstype` at `target`.
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    nix::mount::mount(Some(source), target, Some(fstype), flags, data).map_err(io::Error::from)
}

/// Bind-mounts `source` on `target` (recursively), then remounts it read-only when asked.
pub fn bind(source: &Path, target: &Path, readonly: bool) -> io::Result<()> {
    nix::mount::mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    if readonly {
        nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept_flags(target)?,
            None::<&str>,
        )?;
    }
    Ok(())
}

/// The flags of the mount at `path` that a bind remount must repeat: in a user namespace the
/// kernel locks the nosuid, nodev, noexec and atime flags a mount came with, and a remount that
/// leaves one out fails with EPERM (systemd hosts mount /dev nosuid, so masking with /dev/null
/// hit this on them; runc keeps the flags the same way).
fn kept_flags(path: &Path) -> io::Result<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let have = nix::sys::statvfs::statvfs(path)?.flags();
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if have.contains(st) {
            out |= ms;
        }
    }
    Ok(out)
}

/// Makes `new_root` the root of the caller's mount namespace and detaches the old root, using the
/// `pivot_root(".", ".")` idiom so no directory for the old root is needed.
pub fn pivot_into(new_root: &Path) -> io::Result<()> {
    nix::unistd::chdir(new_root)?;
    nix::unistd::pivot_root(".", ".")?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")?;
    Ok(())
}

/// Changes the flags of the mount at `target` (MS_REMOUNT with `flags`).
pub fn remount(target: &Path, flags: MsFlags) -> io::Result<()> {
    nix::mount::mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_REMOUNT | flags,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

/// Lazily unmounts `target`.
pub fn unmount(target: &Path) -> io::Result<()> {
    nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(io::Error::from)
}

pub use nix::mount::MsFlags as Flags;
