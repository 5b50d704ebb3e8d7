//! `fleet-init`: the builtin PID 1 of a container whose command is not itself an init. It reaps
//! every orphan in the container, forwards each signal it gets to the command, and exits with
//! the command's status (128 + the signal when a signal killed it), as tini and catatonit do.
//!
//! Built by node-runtime's build.rs as its own small static program (std only), embedded in
//! fleet-node, installed once under `<root>/init/` and bound read-only at `/dev/fleet-init`
//! inside each container that uses it (see `init/mod.rs` and docs/decisions.md).
//!
//! Usage: `fleet-init [--report-fd N] -- COMMAND [ARG...]`. With `--report-fd`, a command that
//! cannot be started is reported to fleet-node on that descriptor (an `E` frame) and the
//! descriptor is closed once the command runs, so `fleet-node start` fails the same way as
//! without the builtin init.
//!
//! `fleet-init --console MAX` is its other mode, on the host: a container's console keeper
//! (`init/console.rs`).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, exit};

#[path = "console.rs"]
mod console;
#[path = "../sys/init_ffi.rs"]
mod ffi;
#[path = "report.rs"]
mod report;

fn main() {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().and_then(|a| a.to_str()) == Some("--console") {
        let max = args.nth(1).and_then(|v| v.to_str()?.parse().ok());
        keep_console(max.unwrap_or_else(|| usage()));
    }
    let waited = ffi::block_signals();
    let mut report_fd = None;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--") => break,
            Some("--report-fd") => report_fd = args.next().and_then(|v| v.to_str()?.parse().ok()),
            _ => usage(),
        }
    }
    let command: Vec<_> = args.collect();
    if command.is_empty() {
        usage();
    }
    if ffi::pid() != 1 {
        // Not a namespace's init (run by hand, or in a test): orphans still come to us.
        ffi::become_subreaper();
    }
    // Close-on-exec from here on, so the command does not hold fleet-node's pipe open.
    let report = report_fd.map(|fd| {
        let file = ffi::inherited_fd(fd);
        let copy = file.as_fd().try_clone_to_owned().map(std::fs::File::from);
        drop(file);
        copy
    });
    let mut spawn = Command::new(&command[0]);
    spawn.args(&command[1..]);
    ffi::unblock_signals_in(&mut spawn);
    let child = match spawn.spawn() {
        Ok(child) => child.id() as i32,
        Err(e) => {
            let message = format!("exec {}: {e}", command[0].to_string_lossy());
            if let Some(Ok(mut pipe)) = report {
                let _ = pipe.write_all(&report::frame(b'E', message.as_bytes()));
            }
            eprintln!("fleet-init: {message}");
            exit(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    drop(report);
    loop {
        let sig = ffi::wait_signal(&waited);
        if sig != ffi::SIGCHLD {
            ffi::forward(child, sig);
            continue;
        }
        while let Some((pid, status)) = ffi::reap() {
            if pid == child {
                exit(exit_code(ExitStatus::from_raw(status)));
            }
        }
    }
}

/// The console log files in the store directory fleet-node passed as descriptor 3.
struct StoreDir;

impl console::Files for StoreDir {
    type Out = std::fs::File;
    fn open(&mut self) -> std::io::Result<(std::fs::File, u64)> {
        let file = ffi::open_append_in(3, c"console.log")?;
        let size = file.metadata()?.len();
        Ok((file, size))
    }
    fn rotate(&mut self) -> std::io::Result<()> {
        ffi::rename_in(3, c"console.log", c"console.log.1")
    }
}

/// Console keeper mode: the pipe on stdin into the store directory's log files, until every
/// writer is gone.
fn keep_console(max: u64) -> ! {
    let mut pipe = ffi::inherited_fd(0);
    match console::keep(&mut pipe, &mut StoreDir, max) {
        Ok(()) => exit(0),
        Err(e) => {
            eprintln!("fleet-init --console: {e}");
            exit(1)
        }
    }
}

/// The shell's convention: the exit code, or 128 + the signal that killed the command.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn usage() -> ! {
    eprintln!("usage: fleet-init [--report-fd N] -- COMMAND [ARG...] | fleet-init --console MAX");
    exit(2)
}
