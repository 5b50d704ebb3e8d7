//! The restore: under the container's lock, with the container stopped, its cgroup made with
//! the spec's limits and its bridge present, a child process in a private mount namespace
//! mounts the container's overlay (the same layers a start uses) and execs `criu restore` with
//! that as the root. CRIU recreates the namespaces, the mounts inside (external ones bound from
//! this host by path, the builtin init from this node's copy), the network namespace with its
//! veth (host end named and plugged as a start names and plugs it), the TCP connections and
//! the processes, in the container's cgroup, and detaches. The new init's host pid and start
//! time are then recorded in state.json (atomic write, under the lock). The private mount
//! namespace dies with the child: no mount of the container's is left in the host's.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fleet_protocol::NetworkMode;

use super::dump::{INIT_DIR_KEY, INIT_KEY, last_errors};
use super::images::{self, RESTORE_LOG, Record};
use super::{RestoreReport, begin, failure};
use crate::container::{Found, Runtime};
use crate::error::{Result, io_err};
use crate::store::FILE_MODE;
use crate::sys::ns::{self, CloneFlags};
use crate::sys::{mount, process};

/// File in the checkpoint directory where CRIU writes the restored init's host pid.
const PIDFILE: &str = "restore.pid";
/// Where a restore binds the builtin init and its directory for CRIU (an empty file and an empty
/// directory on the host; the binds exist only in the restoring child's mount namespace).
const PLACEHOLDERS: &str = "/run/fleet-node";

/// Restores the stopped container `name` from the images in `dir`, in its own cgroup with its
/// limits, and records the new init.
pub fn restore(runtime: &Runtime, name: &str, dir: &Path) -> Result<RestoreReport> {
    let (binary, _, _lock, found) = begin(runtime, "restore", name)?;
    let fail = failure("restore", name);
    if let Some(pid) = found.init {
        return Err(fail(format!(
            "it is running (init pid {pid}); a restore needs it stopped (`fleet-node stop \
             {name}`, or checkpoint without --leave-running)"
        )));
    }
    let (dir, record) = images::open(runtime, name, dir)?;
    restore_locked(runtime, name, found, &dir, &record, &binary)
}

/// The restore itself, for a caller that holds the container's lock, found it stopped, and
/// checked `dir` and read its record: the user's restore above, and a live move's commit or
/// abort (`transfer/`), whose directories are the node's own.
pub(crate) fn restore_locked(
    runtime: &Runtime,
    name: &str,
    found: Found,
    dir: &Path,
    record: &Record,
    binary: &Path,
) -> Result<RestoreReport> {
    let fail = failure("restore", name);
    if let Some(pid) = found.init {
        return Err(fail(format!("it is running (init pid {pid})")));
    }
    let dir = dir.to_path_buf();
    let spec = &found.spec;
    let mut state = found.state;
    let cgroup = runtime.cgroup(name);
    cgroup.create()?;
    // The granted devices' rules (v1) or the device program (v2), as a start sets them: the
    // restored processes open what they opened before, and nothing else.
    let devices = crate::cgroups::devices::HostDevice::find_all(name, &spec.security.devices)?;
    crate::cgroups::devices::guard(&cgroup, &devices)?;
    let layout = runtime.store.layout(name);
    let (upper, work) = runtime.writable_layer(name, spec)?;
    runtime.apply_resources(&cgroup, &spec.resources)?;
    let ids = runtime.prepare_ids(name, spec, &mut state, &upper, &work)?;
    let lower = match ids.lower_mount {
        Some(_) => layout.dir.join(crate::container::IDMAPPED_LOWER),
        None => ids.template.lower.clone(),
    };
    if ids.lower_mount.is_some() {
        std::fs::create_dir_all(&lower).map_err(io_err("create directory", &lower))?;
    }
    let mut overlay = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if ids.base.is_some() {
        overlay.push_str(",userxattr");
    }
    // The console pipe, drained by a new keeper, stands in for the dumped tree's (by its key).
    let (log, _starter) = runtime.console(name, &cgroup)?;
    // The veth pair, made ahead (see `network::prepare_restore`); a stale one is replaced.
    let peer = if record.own_netns {
        crate::network::prepare_restore(&runtime.link_key(name), &spec.network)
            .map_err(crate::container::network_error(name))?
    } else {
        None
    };

    // The number criu gets the log as: above ours, so the child's dup2 clobbers nothing.
    let log_fd = log.as_raw_fd() + 1;
    let mut args: Vec<String> = vec![
        "restore".into(),
        "--images-dir".into(),
        path_str(&dir),
        "--log-file".into(),
        RESTORE_LOG.into(),
        "-v2".into(),
        "--restore-detached".into(),
        "--pidfile".into(),
        PIDFILE.into(),
        "--root".into(),
        path_str(&layout.rootfs),
        "--tcp-established".into(),
        "--file-locks".into(),
        // The container's cgroup exists (made above with the spec's limits); `soft` puts each
        // task back in it without touching its files. (criu itself stays out of it: the
        // container's memory limit would kill it.)
        "--manage-cgroups=soft".into(),
        "--cgroup-root".into(),
        format!("/{}/{}", runtime.cgroup_parent, name),
        "--external".into(),
        "mnt[]".into(),
        "--inherit-fd".into(),
        format!("fd[{log_fd}]:{}", record.log_key),
    ];
    args.extend(super::cgroups::yard_args(runtime.cgroups.mount()));
    args.extend(super::cgroups::restore_externals(
        &crate::rootfs::cgroupfs::host_layout(&cgroup.dirs()),
    ));
    // The builtin init's mounts: the program at /dev/fleet-init and its directory under the
    // mask tmpfs. CRIU's root task makes them after entering the container's user namespace,
    // whose root cannot search the 0700 store, and only from paths of its own mount namespace
    // (a copy of criu's): they are bound (in the child's private mounts only) on placeholders
    // under /run/fleet-node, which anyone may search.
    let mut binds = Vec::new();
    if crate::init::wanted(spec) {
        let program = crate::init::install(runtime.store.root())?;
        let dir = program.parent().map(PathBuf::from).unwrap_or_default();
        let (program_at, dir_at) = if ids.base.is_some() {
            let (file, placeholder_dir) = placeholders()?;
            binds.push((program, file.clone()));
            binds.push((dir, placeholder_dir.clone()));
            (file, placeholder_dir)
        } else {
            (program, dir)
        };
        args.push("--external".into());
        args.push(format!("mnt[{INIT_KEY}]:{}", path_str(&program_at)));
        args.push("--external".into());
        args.push(format!("mnt[{INIT_DIR_KEY}]:{}", path_str(&dir_at)));
    }
    if let Some(peer) = &peer {
        args.push("--external".into());
        args.push(format!(
            "netdev[{}]:{peer}",
            crate::network::CONTAINER_IFNAME
        ));
    }
    let _ = std::fs::remove_file(dir.join(PIDFILE));
    let child = Child {
        criu: cstring(binary.as_os_str().as_bytes()),
        argv: std::iter::once(cstring(b"criu"))
            .chain(args.iter().map(|a| cstring(a.as_bytes())))
            .collect(),
        rootfs: layout.rootfs.clone(),
        lower,
        lower_mount: ids.lower_mount.as_ref().map(|m| m.as_raw_fd()),
        overlay,
        log: (log.as_raw_fd(), log_fd),
        binds,
    };
    // CRIU's restored tasks read their images and reopen the log after entering the user
    // namespace, as its root (host uid and gid `base`): opened to that group for the restore.
    // So are a live move's pre-dump rounds, whose pages the dump's `parent` links lead to:
    // readable too (0750), since CRIU opens each round's directory itself, inside.
    let rounds = super::rounds(&dir);
    let mut open: Vec<(&Path, u32, u32)> =
        vec![(&dir, 0o710, 0o700), (&layout.log, FILE_MODE, FILE_MODE)];
    open.extend(rounds.iter().map(|r| (r.as_path(), 0o750, 0o700)));
    let opened = images::open_to(&open, ids.base)?;
    let started = Instant::now();
    let status = run_in_private_mounts(&child).map_err(|e| fail(format!("run criu: {e}")));
    let took = started.elapsed();
    drop(opened);
    let status = status?;
    if status != 0 {
        let _ = cgroup.kill_all(std::time::Duration::from_secs(5));
        if peer.is_some() {
            let _ = crate::network::detach(&runtime.link_key(name));
        }
        return Err(fail(format!(
            "criu restore failed (exit {status}): {}; the container stays stopped (full log: {})",
            last_errors(&dir.join(RESTORE_LOG)),
            dir.join(RESTORE_LOG).display()
        )));
    }
    let pidfile = dir.join(PIDFILE);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| fail(format!("criu wrote no pid to {}", pidfile.display())))?;
    state.init_pid = Some(pid);
    state.init_start_time = process::start_time(pid);
    runtime.store.write_state(name, &state)?;
    if spec.network.mode == NetworkMode::Bridged {
        // Idempotent: the restored eth0 and host end exist; this plugs the host end and checks
        // the addresses and route as a start leaves them.
        runtime.before_init_exec(spec, pid)?;
    }
    Ok(RestoreReport {
        init_pid: pid,
        restore: took,
    })
}

/// What the forked child needs, computed before the fork.
struct Child {
    criu: CString,
    argv: Vec<CString>,
    rootfs: PathBuf,
    lower: PathBuf,
    lower_mount: Option<i32>,
    overlay: String,
    /// The console log: (our descriptor, the number criu gets it as).
    log: (i32, i32),
    /// The builtin init and the placeholder to bind it on, for a user-namespaced container.
    binds: Vec<(PathBuf, PathBuf)>,
}

/// Forks; the child makes a private mount namespace, mounts the overlay at the container's
/// rootfs and execs criu there. Returns criu's exit code.
fn run_in_private_mounts(child: &Child) -> std::io::Result<i32> {
    match process::fork()? {
        process::ForkResult::Child => {
            let code = match in_child(child) {
                Ok(()) => 0,
                Err(e) => {
                    let msg = format!("fleet-node restore: {e}\n");
                    process::write_all_raw(2, msg.as_bytes());
                    126
                }
            };
            process::exit_now(code)
        }
        process::ForkResult::Parent { child } => process::wait_child(child.as_raw()),
    }
}

fn in_child(child: &Child) -> std::result::Result<(), String> {
    ns::unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare mount namespace: {e}"))?;
    mount::make_rprivate().map_err(|e| format!("make / private: {e}"))?;
    if let Some(fd) = child.lower_mount {
        mount::attach_path(fd, &child.lower)
            .map_err(|e| format!("attach idmapped {}: {e}", child.lower.display()))?;
    }
    mount::mount_fs(
        "overlay",
        &child.rootfs,
        "overlay",
        crate::rootfs::ROOT_FLAGS,
        Some(&child.overlay),
    )
    .map_err(|e| format!("mount overlay on {}: {e}", child.rootfs.display()))?;
    for (from, to) in &child.binds {
        bind_placeholder(from, to)
            .map_err(|e| format!("bind {} on {}: {e}", from.display(), to.display()))?;
    }
    // dup2 clears close-on-exec on the copies.
    process::dup_onto(child.log.0, child.log.1).map_err(|e| format!("pass the log: {e}"))?;
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    Err(format!(
        "exec {}: {}",
        child.criu.to_string_lossy(),
        process::execve(&child.criu, &child.argv, &env)
    ))
}

/// The placeholders (a file and a directory under a 0755 directory), made once.
fn placeholders() -> Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let dir = PathBuf::from(PLACEHOLDERS);
    std::fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err("chmod 0755", &dir))?;
    let file = dir.join("restore-fleet-init");
    if !file.is_file() {
        std::fs::write(&file, b"").map_err(io_err("create", &file))?;
    }
    let sub = dir.join("restore-init.d");
    std::fs::create_dir_all(&sub).map_err(io_err("create directory", &sub))?;
    Ok((file, sub))
}

/// Binds `from` read-only on the placeholder `to` (under [`PLACEHOLDERS`], ours), resolved
/// beneath its directory without following a link.
fn bind_placeholder(from: &Path, to: &Path) -> std::result::Result<(), String> {
    let dir = to.parent().unwrap_or(Path::new("/"));
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = crate::sys::beneath::Root::open(dir).map_err(|e| e.to_string())?;
    let target = root
        .find(&name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the placeholder is missing".to_owned())?;
    mount::bind(from, &target, true, false).map_err(|e| e.to_string())
}

fn cstring(bytes: &[u8]) -> CString {
    CString::new(bytes).unwrap_or_default()
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}
