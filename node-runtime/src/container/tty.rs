//! The host side of `exec -t`: relays the caller's stdin and stdout to the pty master until the
//! command's side closes, with the caller's terminal (if it is one) in raw mode meanwhile, and
//! passes each resize of the caller's terminal (SIGWINCH, read from a signalfd) on to the pty,
//! whose kernel side then signals the command. Over SSH the caller's terminal is sshd's pty,
//! which `fleet exec` resizes with the channel's window-change request.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use crate::sys::pty;

/// Puts the caller's terminal back as it was.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Relays until the pty's slave side is closed by every process of the command.
pub(crate) fn relay(master: OwnedFd) -> io::Result<()> {
    let _raw = RawMode::enter();
    let resized = resize_signals();
    pty::copy_window_size(io::stdin().as_raw_fd(), master.as_raw_fd());
    let mut master = File::from(master);
    let stdin = io::stdin();
    let mut stdout = io::stdout();
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let (stdin_ready, master_ready, resize_ready) = {
            let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            if let Some(r) = &resized {
                fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let ready = |fd: &PollFd| !fd.revents().unwrap_or(PollFlags::empty()).is_empty();
            let resize = usize::from(resized.is_some());
            (
                stdin_open && fds.get(1 + resize).is_some_and(ready),
                ready(&fds[0]),
                resize == 1 && ready(&fds[1]),
            )
        };
        if resize_ready && let Some(r) = &resized {
            while let Ok(Some(_)) = r.read_signal() {}
            pty::copy_window_size(stdin.as_raw_fd(), master.as_raw_fd());
        }
        if master_ready {
            match master.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    stdout.write_all(&buf[..n])?;
                    stdout.flush()?;
                }
                // EIO: every slave descriptor is closed, the command is done.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if stdin_ready {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(0) | Err(_) => {
                    // End of input: ^D tells a canonical-mode reader inside the same.
                    stdin_open = false;
                    let _ = master.write_all(&[4]);
                }
                Ok(n) => master.write_all(&buf[..n])?,
            }
        }
    }
}

/// SIGWINCH as a readable descriptor (blocked for this process, which only relays), or `None`
/// when that cannot be set up: the pty then keeps the size it started with.
fn resize_signals() -> Option<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    mask.thread_block().ok()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()
}
