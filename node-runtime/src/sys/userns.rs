//! A user namespace with a given id map, made before a container's processes exist: a child
//! is cloned straight into a new user namespace, the parent writes its uid_map and gid_map and
//! opens /proc/<child>/ns/user, and the child exits. The descriptor keeps the namespace alive;
//! the container's intermediate process joins it with setns, and the same descriptor makes the
//! template's idmapped mount (sys::idmap).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use super::process::{CLONE_ARGS_SIZE_VER0, CloneArgs};

/// A new user namespace whose ids `0..count` are host ids `base..base + count`, for uids and
/// gids alike, owned by the caller.
pub fn create(base: u32, count: u32) -> io::Result<OwnedFd> {
    let (hold_rd, hold_wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut args = CloneArgs {
        flags: libc::CLONE_NEWUSER as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM is fork into a new user namespace; `args` is a live,
    // correctly sized clone_args. The child only calls read and _exit (async-signal-safe) on
    // a descriptor it inherited, so the parent's state (locks, allocator) is never touched.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            // the first version's size: this clone needs no field past `tls`, and older
            // kernels than CLONE_INTO_CGROUP's take it
            CLONE_ARGS_SIZE_VER0,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let mut byte = 0u8;
        // SAFETY: the child closes its copy of the write end, then reads into a one-byte stack
        // buffer, which returns at end of file when the parent closes its end; then _exit,
        // which never returns. No destructor runs in the child.
        unsafe {
            libc::close(hold_wr.as_raw_fd());
            libc::read(hold_rd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0)
        }
    }
    let pid = pid as i32;
    let result = (|| {
        let map = format!("0 {base} {count}\n");
        for file in ["uid_map", "gid_map"] {
            File::options()
                .write(true)
                .open(format!("/proc/{pid}/{file}"))?
                .write_all(map.as_bytes())?;
        }
        let ns = File::open(format!("/proc/{pid}/ns/user"))?;
        Ok(OwnedFd::from(ns))
    })();
    drop(hold_wr);
    drop(hold_rd);
    let _ = super::process::wait_child(pid);
    result
}
