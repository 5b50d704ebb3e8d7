//! Namespaces: unshare for a new container, setns to join an existing one, hostname.

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
