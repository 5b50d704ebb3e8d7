//! Namespaces: unshare for a new container, setns to join an existing one, hostname, and the
//! loopback of a new network namespace.

use std::fs::File;
use std::io;

pub use nix::sched::CloneFlags;

/// Moves the calling process into new namespaces of the given kinds.
pub fn unshare(flags: CloneFlags) -> io::Result<()> {
    nix::sched::unshare(flags).map_err(io::Error::from)
}

/// Joins the namespace behind an open /proc/<pid>/ns/<kind> file.
pub fn setns(file: &File, kind: CloneFlags) -> io::Result<()> {
    nix::sched::setns(file, kind).map_err(io::Error::from)
}

/// Sets the hostname of the calling process's UTS namespace.
pub fn sethostname(name: &str) -> io::Result<()> {
    nix::unistd::sethostname(name).map_err(io::Error::from)
}

/// The namespace kinds a container gets, with their /proc/<pid>/ns file names, in the order a
/// joining process must enter them (user first, mount last so /proc paths stay valid).
pub const JOIN_ORDER: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Brings up `lo` in the calling process's network namespace (a new one has it down): one
/// ioctl pair on a datagram socket, which init makes itself, with no netlink or thread.
pub fn loopback_up() -> io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: socket takes no pointers; a non-negative result is a descriptor nothing else
    // owns, handed to an OwnedFd which closes it.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data (a name and a union of integers and sockaddrs), for which
    // all zeroes is a valid value: the empty name and no flags.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name[0] = b'l' as libc::c_char;
    req.ifr_name[1] = b'o' as libc::c_char;
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name in `req` and writes the flags into its
    // union; `req` is a valid ifreq that outlives the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel has just written the union's flags member, a c_short.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `req`, valid for the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
