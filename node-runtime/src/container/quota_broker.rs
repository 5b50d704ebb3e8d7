//! Starting a `disk.user_quota` container's quota broker: the host process that holds the
//! listener of the quota calls its init's seccomp filter hands over (`confine.rs`) and answers
//! them on the disk's own device (`quotactl::broker`).
//!
//! The broker is `fleet-node quota-broker --init PID --device DEV` with the listener as its
//! descriptor 3, in a session of its own and reparented away from the starting node (which
//! never waits for it), on the host's side of every namespace and outside the container's
//! groups: nothing of it is the container's to freeze, count or kill. It ends by itself when
//! the listener hangs up, which the kernel does once no process of the filter is left (the
//! container stopped). Its stderr is the container's `quota.log` in the store (0600).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{Result, io_err};
use crate::store::Layout;
use crate::sys::process;

/// Descriptors of the starter: below 10 nothing the dup2s below write onto is held.
const HIGH_FD: i32 = 10;

/// The log beside the container's console log.
pub const LOG: &str = "quota.log";

/// Serves `listener` on a thread of this process: an exec'd command's filter is its own (the
/// command does not descend from init), so `fleet-node exec`, which waits for the command,
/// answers its quota calls while it runs. `host` is the node's end of the command's
/// [`super::confine::Handover`].
pub(crate) fn serve_exec(host: OwnedFd, init: i32, device: PathBuf) {
    std::thread::spawn(move || {
        // A command that failed before its exec sent nothing: the wait ends with the socket.
        if let Ok(listener) = super::confine::Handover::receive(host)
            && let Err(e) = crate::quotactl::serve(listener, init, &device)
        {
            eprintln!("fleet-node exec: the quota calls' broker: {e}");
        }
    });
}

/// Starts the broker of the container whose init is host pid `init`, disk on `device`, with the
/// quota calls' `listener`; returns once the broker's starter has forked it.
pub(crate) fn start(layout: &Layout, init: i32, device: &Path, listener: OwnedFd) -> Result<()> {
    let log_path = layout.dir.join(LOG);
    let log = super::console::open_log(&log_path)?;
    let null = File::open("/dev/null").map_err(io_err("open", Path::new("/dev/null")))?;
    let high = |fd: &dyn AsFd| {
        process::dup_above(fd.as_fd(), HIGH_FD)
            .map_err(|e| io_err("dup a descriptor for", &log_path)(e))
    };
    let (listener, log, null) = (high(&listener)?, high(&log)?, high(&null)?);
    let program = c"/proc/self/exe".to_owned();
    let argv = [
        c"fleet-node".to_owned(),
        c"quota-broker".to_owned(),
        c"--init".to_owned(),
        CString::new(init.to_string()).expect("digits"),
        c"--device".to_owned(),
        CString::new(device.as_os_str().as_encoded_bytes())
            .map_err(|_| io_err("name", device)(std::io::Error::other("NUL in the path")))?,
    ];
    match process::fork().map_err(io_err("fork the quota broker of", &layout.dir))? {
        process::ForkResult::Child => {
            // A session of its own, then a grandchild the host's init reaps.
            let _ = process::setsid();
            if let Ok(process::ForkResult::Child) = process::fork() {
                // stdin and stdout nowhere, stderr the log, 3 the listener.
                let fds = [&null, &null, &log, &listener].map(|fd| fd.as_raw_fd());
                process::exec_with(&fds, &program, &argv, &[]);
            }
            process::exit_now(0)
        }
        process::ForkResult::Parent { child } => {
            let _ = process::wait_child(child.as_raw());
            Ok(())
        }
    }
}
