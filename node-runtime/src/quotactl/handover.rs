//! Handing a quota container's listener out of the container: init installs its filter last
//! before execve, sends the listener over a unix socket made before the fork (SCM_RIGHTS) and
//! closes its own copy, so nothing inside holds it (a process that held it could answer its
//! own quota calls). The host side receives it for the broker.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// The one byte sent with the descriptor (a message must carry data).
const TAG: &[u8] = b"L";

/// Sends `listener` over `socket` and closes it here.
pub fn send(socket: BorrowedFd<'_>, listener: OwnedFd) -> io::Result<()> {
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(TAG)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    drop(listener);
    Ok(())
}

/// Receives one descriptor sent by [`send`] over `socket`.
pub fn recv(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            // The kernel installed this descriptor in our table, for us alone.
            return Ok(crate::sys::seccomp_notify::adopt(fd));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no descriptor came with the message",
    ))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

    use super::*;

    #[test]
    fn a_descriptor_crosses_the_socket_and_is_the_same_file() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::create(dir.path().join("f")).unwrap();
        let ino = file.metadata().unwrap().ino();
        send(a.as_fd(), OwnedFd::from(file)).unwrap();
        let got = std::fs::File::from(recv(b.as_fd()).unwrap());
        assert_eq!(got.metadata().unwrap().ino(), ino);
        drop(a);
        assert!(recv(b.as_fd()).is_err(), "nothing more to receive");
    }
}
