//! The dump: under the container's lock, freeze its cgroup, have CRIU dump the tree rooted at
//! init into the checkpoint directory, then thaw (leave running) or kill the dumped tree and
//! record the container as stopped. Any failure thaws and leaves it running as before.
//!
//! What CRIU is told (docs/decisions.md, "CRIU"): the tree has its own namespaces (mount, pid,
//! uts, ipc, cgroup, net); the mounts bound in from the host (device nodes, /proc masks, the
//! host template's directories) are external, found again by path on restore (`mnt[]`); the
//! builtin init's bind is external under the key `fleet-init`, so a target with another root
//! binds its own copy; the console log, opened by fleet-node on the host, is an external file
//! handed back as an inherited descriptor; established TCP connections are dumped
//! (`--tcp-established`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::images::{self, DUMP_LOG, Record};
use super::{CheckpointOptions, CheckpointReport, begin, failure, freeze};
use crate::container::Found;
use crate::container::Runtime;
use crate::error::{Error, Result, io_err};

/// The key CRIU's images use for the builtin init's bind mount.
pub const INIT_KEY: &str = "fleet-init";
/// The key for the builtin init's directory, mounted under the mask tmpfs
/// (`rootfs/masks.rs`): an overlay on host descriptors, which CRIU cannot mount again itself.
pub const INIT_DIR_KEY: &str = "fleet-init-dir";

/// Dumps the running container `name` into `dir` (created 0700; it must not exist or be empty).
pub fn checkpoint(
    runtime: &Runtime,
    name: &str,
    dir: &Path,
    opts: &CheckpointOptions,
) -> Result<CheckpointReport> {
    let (binary, version, _lock, found) = begin(runtime, "checkpoint", name)?;
    let fail = failure("checkpoint", name);
    if let Some(why) = fleet_protocol::live::why_not_checkpointable(&found.spec) {
        return Err(fail(format!("cannot be checkpointed: {why}")));
    }
    if found.init.is_none() {
        return Err(Error::NotRunning(name.to_owned()));
    }
    let dir = images::prepare(runtime, name, dir)?;
    dump_locked(runtime, name, found, &dir, opts, (&binary, &version), None)
}

/// What a dump and a pre-dump tell CRIU alike: the tree, where its images and log go, and
/// what its mounts and files are outside it (the host's cgroup yard, the container's cgroup
/// views, the mounts bound in from the host, the console log file, the builtin init's binds).
pub(super) fn tree_args(
    runtime: &Runtime,
    found: &Found,
    init: i32,
    dir: &Path,
    log: &str,
) -> Result<Vec<std::ffi::OsString>> {
    let cgroup = runtime.cgroup(&found.spec.name);
    let mut args: Vec<std::ffi::OsString> = vec![
        "--tree".into(),
        init.to_string().into(),
        "--images-dir".into(),
        dir.into(),
        "--log-file".into(),
        log.into(),
        // Warnings and errors: -v4 wrote 70 MB per dump here and slowed it down.
        "-v2".into(),
    ];
    args.extend(
        super::cgroups::yard_args(runtime.cgroups.mount())
            .into_iter()
            .chain(super::cgroups::dump_externals(
                &crate::rootfs::cgroupfs::host_layout(&cgroup.dirs()),
            ))
            .map(Into::into),
    );
    args.extend(["--external".into(), "mnt[]".into()]);
    // A console log file (a container started before the console pipe) is external; the pipe
    // needs no mark: the restore hands a new one in under its key.
    let log_key = console_key(init, &runtime.store.layout(&found.spec.name).log)?;
    if log_key.starts_with("file[") {
        args.extend(["--external".into(), log_key.into()]);
    }
    if crate::init::wanted(&found.spec) {
        args.extend([
            "--external".into(),
            format!("mnt[/dev/fleet-init]:{INIT_KEY}").into(),
            "--external".into(),
            format!("mnt[/{}/init]:{INIT_DIR_KEY}", crate::rootfs::masks::SOURCE).into(),
        ]);
    }
    Ok(args)
}

/// The dump itself, for a caller that holds the container's lock and made `dir` (fresh,
/// 0700): the user's checkpoint above, and a live move's export (`transfer/`), which holds
/// the lock for the whole move.
pub(crate) fn dump_locked(
    runtime: &Runtime,
    name: &str,
    found: Found,
    dir: &Path,
    opts: &CheckpointOptions,
    (binary, version): (&Path, &str),
    parent: Option<&str>,
) -> Result<CheckpointReport> {
    let fail = failure("checkpoint", name);
    if let Some(why) = fleet_protocol::live::why_not_checkpointable(&found.spec) {
        return Err(fail(format!("cannot be checkpointed: {why}")));
    }
    let init = found
        .init
        .ok_or_else(|| Error::NotRunning(name.to_owned()))?;
    let dir = dir.to_path_buf();
    let version = version.to_owned();
    let layout = runtime.store.layout(name);
    let log_key = console_key(init, &layout.log)?;
    let record = Record {
        name: name.to_owned(),
        criu_version: version.clone(),
        log_key: log_key.clone(),
        own_netns: found.spec.network.mode != fleet_protocol::NetworkMode::Host,
    };
    images::write_record(&dir, &record)?;

    let cgroup = runtime.cgroup(name);
    let frozen = freeze::freeze(&cgroup)?;
    let mut cmd = Command::new(binary);
    cmd.arg("dump")
        .args(tree_args(runtime, &found, init, &dir, DUMP_LOG)?)
        .arg("--tcp-established")
        .arg("--file-locks")
        .arg("--manage-cgroups=soft")
        .arg("--freeze-cgroup")
        .arg(frozen.dir());
    // After pre-dump rounds (a live move's), only the pages dirtied since the last one.
    if let Some(parent) = parent {
        cmd.arg("--prev-images-dir").arg(parent).arg("--track-mem");
    }
    if opts.leave_running {
        cmd.arg("--leave-running");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io_err("run", binary))?;
    if !out.status.success() {
        // `frozen` thaws as it drops: the container runs on as before.
        return Err(fail(format!(
            "criu dump failed ({}): {}; the container was thawed and runs on (full log: {})",
            out.status,
            last_errors(&dir.join(DUMP_LOG)),
            dir.join(DUMP_LOG).display()
        )));
    }
    let frozen_for = frozen.since.elapsed();
    if opts.leave_running {
        frozen.thaw()?;
    } else {
        // CRIU killed the dumped tasks; a frozen v1 task dies only once thawed.
        frozen.thaw()?;
        cgroup.kill_all(std::time::Duration::from_secs(5))?;
        let mut state = found.state;
        state.init_pid = None;
        state.init_start_time = None;
        runtime.store.write_state(name, &state)?;
    }
    Ok(CheckpointReport {
        image_bytes: images::size(&dir),
        dir,
        criu_version: version,
        frozen: frozen_for,
        left_running: opts.leave_running,
    })
}

/// CRIU's key for a host file the tree holds open: `file[<mnt_id>:<inode>]`, both hex, with the
/// mount id as the host's mount namespace numbers it (read from a descriptor of our own).
/// CRIU's key for what init's stdout is: its console pipe (`pipe:[inode]`), or for a container
/// started before the pipe, the console log file.
fn console_key(init: i32, log: &Path) -> Result<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let stdout = PathBuf::from(format!("/proc/{init}/fd/1"));
    let meta = std::fs::metadata(&stdout).map_err(io_err("stat", &stdout))?;
    if meta.file_type().is_fifo() {
        return Ok(format!("pipe:[{}]", meta.ino()));
    }
    file_key(log)
}

fn file_key(path: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let file = File::open(path).map_err(io_err("open", path))?;
    let inode = file.metadata().map_err(io_err("stat", path))?.ino();
    let fdinfo = format!("/proc/self/fdinfo/{}", file.as_raw_fd());
    let text = std::fs::read_to_string(&fdinfo).map_err(io_err("read", &fdinfo))?;
    let mnt_id: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            io_err("read mnt_id from", &fdinfo)(std::io::Error::other("no mnt_id line"))
        })?;
    Ok(format!("file[{mnt_id:x}:{inode:x}]"))
}

/// The last few `Error` lines of a CRIU log, for the message.
pub(super) fn last_errors(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error") || l.contains("FAILED"))
        .collect();
    let tail = &errors[errors.len().saturating_sub(3)..];
    if tail.is_empty() {
        "no error in its log".to_owned()
    } else {
        tail.iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" / ")
    }
}
