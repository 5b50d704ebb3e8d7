//! The builtin init: when a container's command is not itself an init (`init: auto`, or
//! `init: builtin`), PID 1 is `fleet-init`, a small static program that reaps every orphan,
//! forwards signals to the command and exits with its status (`program.rs`).
//!
//! fleet-node carries the program (built by build.rs) and writes it once to
//! `<root>/init/fleet-init-<hash>` (0555, in the 0700 store). Init binds it read-only at
//! [`INSIDE`], on the container's fresh /dev tmpfs, and execs it there. So the process's exe is a
//! path inside the container (as CRIU needs to restore it), the file cannot be written from
//! inside (a read-only bind of a root-owned file: CVE-2019-5736's write through /proc/1/exe
//! gets EROFS), and fleet-node's own binary stays out of reach. Why this and not a fork of
//! fleet-node: docs/decisions.md.
//!
//! Neighbours: `container/start.rs` decides and installs ([`wanted`], [`install`]); `rootfs/`
//! binds it ([`bind_into`]); `container/spawn.rs` execs it ([`argv`]); `container/stop.rs`
//! knows it forwards SIGTERM ([`is_running_as`]).

pub mod console;
pub mod report;

// Built by build.rs as a program of its own, never as part of this crate; declared here only
// so that rustfmt formats it with the rest.
#[cfg(any())]
mod program;

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fleet_protocol::ContainerSpec;

use crate::error::{Result, io_err};

/// The program, as build.rs made it.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fleet-init"));

/// Where the program is inside a container.
pub const INSIDE: &str = "/dev/fleet-init";

/// Whether the container's PID 1 is the builtin init.
pub fn wanted(spec: &ContainerSpec) -> bool {
    spec.init.builtin_for(&spec.command)
}

/// The program on the host under `root`, written the first time (temp file, then rename, so a
/// file at the returned path is always whole). Its name carries a hash of its bytes, so two
/// fleet-node versions never share one.
pub fn install(root: &Path) -> Result<PathBuf> {
    let dir = root.join("init");
    let path = dir.join(format!("fleet-init-{}", env!("FLEET_INIT_HASH")));
    if path.is_file() {
        return Ok(path);
    }
    crate::store::private_dir(&dir)?;
    let tmp = dir.join(format!(".fleet-init.tmp-{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o555)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    file.write_all(BINARY).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("fsync", &tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
    Ok(path)
}

/// Binds `program` (a path this process can open: the caller pins it) read-only at
/// [`INSIDE`] on the container's new /dev, found in the tree `root`. Runs in init before
/// pivot_root.
pub fn bind_into(
    root: &crate::sys::beneath::Root,
    program: &Path,
) -> std::result::Result<(), String> {
    let node = root
        .file(INSIDE.trim_start_matches('/'), 0o444)
        .map_err(|e| e.to_string())?;
    crate::sys::mount::bind(program, &node, true, false)
        .map_err(|e| format!("bind the builtin init at {INSIDE}: {e}"))
}

/// The argv that runs `command` under the builtin init, which reports a command it cannot
/// start on `report_fd` (kept open across the exec by the caller).
pub fn argv(report_fd: i32, command: &[CString]) -> Vec<CString> {
    let mut argv = vec![
        CString::new(INSIDE).expect("no NUL"),
        c"--report-fd".to_owned(),
        CString::new(report_fd.to_string()).expect("no NUL"),
        c"--".to_owned(),
    ];
    argv.extend(command.iter().cloned());
    argv
}

/// Whether process `pid` is the builtin init (its argv[0] is [`INSIDE`]).
pub fn is_running_as(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).next() == Some(INSIDE.as_bytes()))
}

#[cfg(test)]
mod tests;
