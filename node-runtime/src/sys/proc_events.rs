//! The kernel's process events connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`), exits only: how
//! the supervisor learns the exit status of container inits it is not the parent of (they are
//! reparented to the host's init, which reaps them and keeps the status to itself).
//!
//! A socket filter (classic BPF) drops every event but exits in the kernel, so the supervisor
//! wakes for process exits only. Events can be lost when the socket's buffer overflows
//! (`ENOBUFS`); the supervisor's pidfds still say that an init ended, only not how.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `struct nlmsghdr` (16 bytes) then `struct cn_msg` (20 bytes): where `struct proc_event`
/// starts in a message.
const EVENT: usize = 16 + 20;
/// `proc_event.what`, the event's kind.
const WHAT: usize = EVENT;
/// `proc_event.event_data`, after `what`, `cpu` and the 64-bit timestamp.
const DATA: usize = EVENT + 16;

/// A subscription to the kernel's process exit events.
#[derive(Debug)]
pub struct ProcEvents {
    fd: OwnedFd,
}

/// One process that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its pid (in the initial pid namespace).
    pub pid: i32,
    /// Its wait status (`code << 8`, or the signal in the low 7 bits).
    pub wait_status: i32,
}

impl ProcEvents {
    /// Subscribes (needs CAP_NET_ADMIN in the initial user and network namespace).
    pub fn open() -> io::Result<ProcEvents> {
        // SAFETY: socket takes three integers and returns a new descriptor or -1.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_CONNECTOR,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        attach_exit_filter(&fd)?;
        set_receive_buffer(&fd, 1 << 20);
        // SAFETY: sockaddr_nl is plain old data; zero is a valid value for each field.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let listen = subscribe_message(std::process::id());
        // SAFETY: the buffer is valid for its length; send only reads it.
        let n = unsafe { libc::send(fd.as_raw_fd(), listen.as_ptr().cast(), listen.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ProcEvents { fd })
    }

    /// Reads every queued exit into `out` without blocking. `Ok(false)` when events were lost
    /// because the socket's buffer overflowed.
    pub fn drain(&self, out: &mut Vec<Exit>) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        let mut complete = true;
        loop {
            // SAFETY: `buf` is valid for writes of its length for the duration of the call.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(complete),
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        complete = false;
                        continue;
                    }
                    _ => return Err(err),
                }
            }
            if let Some(exit) = parse_exit(&buf[..n as usize]) {
                out.push(exit);
            }
        }
    }
}

impl AsFd for ProcEvents {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The connector message that asks for events: `nlmsghdr`, `cn_msg` for `CN_IDX_PROC`, and
/// `PROC_CN_MCAST_LISTEN`.
fn subscribe_message(pid: u32) -> Vec<u8> {
    let mut msg = Vec::with_capacity(40);
    msg.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes()); // nlmsg_type
    msg.extend_from_slice(&0u16.to_ne_bytes()); // nlmsg_flags
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq
    msg.extend_from_slice(&pid.to_ne_bytes()); // nlmsg_pid
    msg.extend_from_slice(&libc::CN_IDX_PROC.to_ne_bytes()); // id.idx
    msg.extend_from_slice(&libc::CN_VAL_PROC.to_ne_bytes()); // id.val
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
    msg.extend_from_slice(&4u16.to_ne_bytes()); // len
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&libc::PROC_CN_MCAST_LISTEN.to_ne_bytes());
    msg
}

/// The exit in one message, when it is the exit of a whole process (its thread group leader).
fn parse_exit(msg: &[u8]) -> Option<Exit> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(msg.get(at..at + 4)?.try_into().ok()?))
    };
    if word(WHAT)? != libc::PROC_EVENT_EXIT {
        return None;
    }
    let (pid, tgid, code) = (word(DATA)?, word(DATA + 4)?, word(DATA + 8)?);
    (pid == tgid).then_some(Exit {
        pid: pid as i32,
        wait_status: code as i32,
    })
}

/// Keeps only exit events (`what == PROC_EVENT_EXIT`): classic BPF loads words big-endian,
/// hence the byte-swapped constant.
fn attach_exit_filter(fd: &OwnedFd) -> io::Result<()> {
    let mut program = [
        // A = proc_event.what
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: WHAT as u32,
        },
        // if A == exit, skip to accept
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: libc::PROC_EVENT_EXIT.to_be(),
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: u32::MAX,
        },
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const prog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks for a bigger receive buffer, so a burst of exits is not lost (best effort: the kernel
/// caps it at `net.core.rmem_max`).
fn set_receive_buffer(fd: &OwnedFd, bytes: i32) {
    // SAFETY: the option value is a valid int for the duration of the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const bytes).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_of_a_child_is_seen_with_its_status() {
        let events = match ProcEvents::open() {
            Ok(e) => e,
            // Only root in the initial namespaces may subscribe.
            Err(e) if !nix::unistd::Uid::effective().is_root() => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "the process events test needs root in CI: {e}"
                );
                eprintln!("skipped: not root ({e})");
                return;
            }
            Err(e) => panic!("subscribe: {e}"),
        };
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut child = child;
        child.wait().unwrap();
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !seen.iter().any(|e: &Exit| e.pid == pid) && std::time::Instant::now() < deadline {
            events.drain(&mut seen).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let exit = seen.iter().find(|e| e.pid == pid).expect("the exit event");
        assert_eq!(exit.wait_status, 7 << 8);
    }

    #[test]
    fn the_subscribe_message_is_forty_bytes() {
        assert_eq!(subscribe_message(1).len(), 40);
    }
}
