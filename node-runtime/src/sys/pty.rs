//! Pseudo-terminals for `exec -t`: a pair allocated from the container's own devpts instance (so
//! `tty` inside names a device that exists there), the controlling-terminal ioctl, window size.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Opens a new pty master in the devpts at `/dev/pts` of the container whose root is `root`
/// (`/proc/<init>/root`) and its slave; returns (master, slave, slave number).
///
/// That path is resolved in the container's mount namespace, which its root may have reshaped
/// (with `security.nesting`, init itself may sit in a namespace of its own making, with a tmpfs
/// at /dev/pts holding a `ptmx` link to a host device). So `dev/pts` is looked up inside the
/// container's root (`RESOLVE_IN_ROOT`, no magic links), must be a devpts filesystem, and the
/// two nodes are opened in it without following links: a devpts instance holds only ptys.
pub fn open_pair(root: &Path) -> io::Result<(OwnedFd, OwnedFd, u32)> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let root = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let pts = nix::fcntl::openat2(&root, "dev/pts", how)?;
    if nix::sys::statfs::fstatfs(&pts)?.filesystem_type() != nix::sys::statfs::DEVPTS_SUPER_MAGIC {
        return Err(io::Error::other(
            "/dev/pts in the container is not a devpts filesystem (refused: nothing in it is opened)",
        ));
    }
    let node = |name: &str| {
        nix::fcntl::openat(
            &pts,
            name,
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(io::Error::from)
    };
    let master = node("ptmx")?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which is valid for the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer, valid for the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let slave = node(&number.to_string())?;
    Ok((master, slave, number))
}

/// Makes `fd` (a terminal) the controlling terminal of the calling session leader.
pub fn set_controlling(fd: i32) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Copies the window size of terminal `from` to terminal `to`; false when `from` is no terminal.
pub fn copy_window_size(from: i32, to: i32) -> bool {
    let mut size: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize through the pointer, valid for the call.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut size) } < 0 {
        return false;
    }
    // SAFETY: TIOCSWINSZ reads a winsize through the pointer, valid for the call.
    unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &size) >= 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree whose /dev/pts is a plain directory holding a `ptmx` link to a host file, as a
    /// container's root could leave in a namespace of its own: nothing is opened through it.
    #[test]
    fn a_dev_pts_that_is_not_devpts_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let host = tempfile::NamedTempFile::new().unwrap();
        std::fs::create_dir_all(root.path().join("dev/pts")).unwrap();
        std::os::unix::fs::symlink(host.path(), root.path().join("dev/pts/ptmx")).unwrap();
        let err = open_pair(root.path()).unwrap_err();
        assert!(err.to_string().contains("not a devpts"), "{err}");
        // An absolute /dev link resolves inside the root, not to the host's /dev/pts.
        std::fs::remove_dir_all(root.path().join("dev")).unwrap();
        std::os::unix::fs::symlink("/", root.path().join("dev")).unwrap();
        assert!(open_pair(root.path()).is_err());
    }
}
