//! Pseudo-terminals for `exec -t`: a pair allocated from the container's own devpts instance (so
//! `tty` inside names a device that exists there), the controlling-terminal ioctl, window size.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens a new pty master in the devpts mounted at `pts` (for a container:
/// `/proc/<init>/root/dev/pts`) and its slave; returns (master, slave, slave number).
pub fn open_pair(pts: &Path) -> io::Result<(OwnedFd, OwnedFd, u32)> {
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(pts.join("ptmx"))?;
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
    let slave: File = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(pts.join(number.to_string()))?;
    Ok((master.into(), slave.into(), number))
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
