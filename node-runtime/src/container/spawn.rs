//! Starting init: fork, join the cgroup, new namespaces, fork again so init is PID 1 of its own
//! pid namespace and the intermediate exits (init is reparented away from fleet-node and sits in
//! its own session), build the root filesystem, drop capabilities, join a fresh session keyring,
//! install the seccomp filter, exec.
//!
//! The children report over a close-on-exec pipe: `P` with init's host pid, `E` with an error;
//! end of file means init exec'd. The parent answers on a second pipe (`G`) after
//! [`super::Runtime::before_init_exec`]. A `disk.user_quota` container's init sends its quota
//! listener back over a socket pair (`confine.rs`) just before its exec. An unprivileged container's user namespace exists
//! before the fork, with its id maps (`userns/layer.rs`); the intermediate joins it first.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{FdFlag, OFlag};

use super::confine::{Handover, confine, exec_command};
use crate::cgroups::Forked;
use crate::rootfs;
use crate::store::Pinned;
use crate::sys::ns::{self, CloneFlags};
use crate::sys::{caps, process};

/// Everything the children need, computed before fork so they only do syscalls.
pub(crate) struct InitPlan {
    pub rootfs: rootfs::Plan,
    pub hostname: String,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub path_dirs: Vec<String>,
    pub log: File,
    /// How init's parent and init get into the container's groups.
    pub cgroup: crate::cgroups::Ready,
    pub new_net: bool,
    /// Init brings up `lo` of its new network namespace itself (a container without network,
    /// whose namespace holds nothing else; a bridged one is set up from the host).
    pub loopback: bool,
    /// The container's user namespace, made with its id maps; `None` when privileged.
    pub userns: Option<File>,
    pub seccomp: std::sync::Arc<crate::seccomp::Filter>,
}

/// What the children hold from the node, made before the first fork: the write end of the
/// report pipe, the read end of the go pipe, the child's end of the quota listener's
/// [`Handover`] when the filter has one, and the last capability of this kernel (read from
/// /proc while that is still the host's).
struct Ends<'a> {
    report: &'a OwnedFd,
    go: &'a OwnedFd,
    to_host: Option<&'a OwnedFd>,
    last_cap: u32,
}

/// Directory in a container's store directory where init attaches its idmapped template.
pub(crate) const IDMAPPED_LOWER: &str = "lower";

/// A started init: its host pid, and the listener of its quota calls when its filter hands
/// them to one (`disk.user_quota`), for the broker.
pub(crate) struct Spawned {
    pub pid: i32,
    pub quota_listener: Option<OwnedFd>,
}

/// Starts init and returns once it has exec'd the command. `between` runs after init exists
/// and before it execs.
pub(crate) fn spawn_init(
    plan: &InitPlan,
    between: impl FnOnce(i32) -> Result<(), String>,
) -> Result<Spawned, String> {
    let (report_rd, report_wr) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (go_rd, go_wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let handover = Handover::for_filter(&plan.seccomp).map_err(|e| format!("socketpair: {e}"))?;
    let last_cap = caps::last_cap();
    match process::fork().map_err(|e| format!("fork: {e}"))? {
        process::ForkResult::Child => {
            drop(report_rd);
            drop(go_wr);
            let ends = Ends {
                report: &report_wr,
                go: &go_rd,
                to_host: handover.as_ref().map(|h| &h.child),
                last_cap,
            };
            let code = match intermediate(plan, &ends) {
                Ok(()) => 0,
                Err(msg) => {
                    send(&report_wr, b'E', msg.as_bytes());
                    1
                }
            };
            process::exit_now(code)
        }
        process::ForkResult::Parent { child } => {
            drop(report_wr);
            drop(go_rd);
            let host = handover.map(|h| h.host);
            let result = parent(report_rd, go_wr, between, SETUP_TIMEOUT);
            reap(child.as_raw(), result.is_err());
            let pid = result?;
            // Init sent it before its exec, which closed the last copy of the child's end.
            let quota_listener = host
                .map(Handover::receive)
                .transpose()
                .map_err(|e| kill_init(Some(pid), format!("receive the quota listener: {e}")))?;
            Ok(Spawned {
                pid,
                quota_listener,
            })
        }
    }
}

/// How long the children may take to build the container and exec (well under a second
/// normally, seconds under load). Past it the start fails and the node's lock is released: a
/// child once sat in the kernel for over ten minutes on a cgroup mount, and the node waiting
/// for it held the host's apply lock all that time.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Reaps the intermediate child; after a failure it is killed first, and not waited for past a
/// few seconds (a child stuck in the kernel is left to be reaped by whoever inherits it).
fn reap(child: i32, failed: bool) {
    if failed {
        let _ = process::kill(child, nix::sys::signal::Signal::SIGKILL);
        let gone = process::pidfd_open(child)
            .and_then(|fd| process::wait_pidfd(&fd, Duration::from_secs(5)))
            .unwrap_or(true);
        if !gone {
            return;
        }
    }
    let _ = process::wait_child(child);
}

/// Reads the report pipe, failing once `deadline` has passed with nothing to read.
struct Report {
    pipe: File,
    deadline: Instant,
}

impl Read for Report {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if !process::wait_readable(self.pipe.as_fd(), left)? {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the container's setup did not finish within {} s (its children may be \
                     stuck in the kernel: see their stacks in /proc/PID/stack)",
                    SETUP_TIMEOUT.as_secs()
                ),
            ));
        }
        self.pipe.read(buf)
    }
}

fn parent(
    report: OwnedFd,
    go: OwnedFd,
    between: impl FnOnce(i32) -> Result<(), String>,
    timeout: Duration,
) -> Result<i32, String> {
    let mut report = Report {
        pipe: File::from(report),
        deadline: Instant::now() + timeout,
    };
    let mut go = File::from(go);
    let mut init = None;
    let mut between = Some(between);
    let mut failed = None;
    loop {
        let mut tag = [0u8; 1];
        match report.read(&mut tag) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(kill_init(init, format!("read from child: {e}"))),
        }
        let mut len = [0u8; 4];
        report
            .read_exact(&mut len)
            .map_err(|e| kill_init(init, format!("read from child: {e}")))?;
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        report
            .read_exact(&mut payload)
            .map_err(|e| kill_init(init, format!("read from child: {e}")))?;
        let text = String::from_utf8_lossy(&payload).into_owned();
        match tag[0] {
            // One pid, from the intermediate: anything later on the pipe comes from init's side
            // and must not move fleet-node's record of which host process is init.
            b'P' if init.is_some() => return Err("a second pid from the child".into()),
            b'P' => {
                let pid: i32 = text.parse().map_err(|_| format!("bad pid {text:?}"))?;
                init = Some(pid);
                // Init builds its root before it waits for the go: when that failed, init is
                // gone, the steps here fail for that reason (its namespaces are gone), and its
                // own reason is still on the pipe: read on, and report that one first.
                if let Some(f) = between.take()
                    && let Err(e) = f(pid)
                {
                    let _ = process::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    failed = Some(e);
                } else if let Err(e) = go.write_all(b"G") {
                    failed = Some(format!("signal init: {e}"));
                }
            }
            b'E' => return Err(text),
            other => return Err(format!("unexpected message {other} from child")),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    init.ok_or_else(|| "child exited before reporting init's pid".to_owned())
}

/// Kills init (when it reported its pid) before the start gives up on it, returning `why`.
fn kill_init(init: Option<i32>, why: String) -> String {
    if let Some(pid) = init {
        let _ = process::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    why
}

fn send(fd: &OwnedFd, tag: u8, payload: &[u8]) {
    process::write_all_raw(fd.as_raw_fd(), &crate::init::report::frame(tag, payload));
}

fn wait_go(go: &OwnedFd) -> Result<(), String> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(go, &mut byte) {
            Ok(1) => return Ok(()),
            Ok(_) => return Err("parent went away".into()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("wait for parent: {e}")),
        }
    }
}

/// The first child: session, cgroup, namespaces, then the fork that makes init.
fn intermediate(plan: &InitPlan, ends: &Ends) -> Result<(), String> {
    process::setsid().map_err(|e| format!("setsid: {e}"))?;
    process::set_non_dumpable();
    // A container started by the supervisor gets the limits of one started from a shell.
    process::restore_open_files_limit();
    // Single-threaded here, so "0" (this thread) moves the whole process; init inherits the
    // groups, and is forked into the cgroup2 one.
    plan.cgroup.join_v1().map_err(|e| e.to_string())?;
    if let Some(userns) = &plan.userns {
        ns::setns(userns, CloneFlags::CLONE_NEWUSER)
            .map_err(|e| format!("join user namespace: {e}"))?;
        // Still host uid 0 (unmapped here) until init pins the store's directories.
    }
    // The cgroup namespace is init's own unshare: its root is the unsharer's groups, and only
    // init is in the cgroup2 one.
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWPID;
    if plan.new_net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    ns::unshare(flags).map_err(|e| format!("unshare namespaces: {e}"))?;
    match plan.cgroup.fork().map_err(|e| format!("fork init: {e}"))? {
        Forked::Child(joined) => {
            let err = match joined {
                Ok(()) => init(plan, ends),
                Err(e) => e.to_string(),
            };
            send(ends.report, b'E', err.as_bytes());
            process::exit_now(127)
        }
        Forked::Parent(child) => {
            send(ends.report, b'P', child.to_string().as_bytes());
            Ok(())
        }
    }
}

/// PID 1 of the new pid namespace: builds the root, then execs the command. Only returns (with
/// the reason) on failure.
fn init(plan: &InitPlan, ends: &Ends) -> String {
    // Init leads its own session, inside its pid namespace: CRIU refuses to dump a tree whose
    // session leader is outside it (the intermediate's session), so without this no container
    // could be checkpointed.
    if let Err(e) = process::setsid() {
        return format!("setsid in init: {e}");
    }
    // In all the container's groups now: they become the root of its cgroup namespace.
    if let Err(e) = ns::unshare(CloneFlags::CLONE_NEWCGROUP) {
        return format!("unshare the cgroup namespace: {e}");
    }
    let (layers, _held) = match pin_layers(&plan.rootfs) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if plan.userns.is_some()
        && let Err(e) = process::become_root_in_userns()
    {
        return format!("setresuid 0: {e}");
    }
    if let Err(e) = rootfs::setup(&layers) {
        return e;
    }
    if let Err(e) = ns::sethostname(&plan.hostname) {
        return format!("sethostname {:?}: {e}", plan.hostname);
    }
    if plan.loopback
        && let Err(e) = ns::loopback_up()
    {
        return format!("bring up lo: {e}");
    }
    let null = match std::fs::OpenOptions::new().read(true).open("/dev/null") {
        Ok(f) => f,
        Err(e) => return format!("open /dev/null: {e}"),
    };
    for (from, to) in [
        (null.as_raw_fd(), 0),
        (plan.log.as_raw_fd(), 1),
        (plan.log.as_raw_fd(), 2),
    ] {
        if let Err(e) = process::dup_onto(from, to) {
            return format!("redirect fd {to}: {e}");
        }
    }
    if let Err(e) = wait_go(ends.go) {
        return e;
    }
    if let Err(e) = caps::drop_bounding_set(ends.last_cap) {
        return format!("drop capabilities: {e}");
    }
    process::reset_signals();
    process::cloexec_from(3);
    let argv = if layers.init.is_none() {
        plan.argv.clone()
    } else {
        // The builtin init reports a command it cannot start on the report pipe, which it gets
        // across its exec; the exec of the init itself then closes nothing we wait for.
        let report = ends.report;
        if let Err(e) = nix::fcntl::fcntl(report, nix::fcntl::FcntlArg::F_SETFD(FdFlag::empty())) {
            return format!("pass the report pipe to the builtin init: {e}");
        }
        crate::init::argv(report.as_raw_fd(), &plan.argv)
    };
    if let Err(e) = confine(&plan.seccomp, ends.to_host) {
        return e;
    }
    exec_command(&argv, &plan.env, &plan.path_dirs)
}

/// What init keeps open until it execs: the pinned store directories, the builtin init's
/// detached mount and the program in it.
struct Held {
    _pinned: Vec<Pinned>,
    _fds: Vec<OwnedFd>,
}

/// Opens the store directories the root filesystem is built from while this process still has
/// host uid 0 (which owns the 0700 store) and the container's mount namespace is already its
/// own, and names them through the descriptors (`/proc/self/fd/N/...`). Root of a user
/// namespace could not search the store; a descriptor reaches the directory without searching
/// what lies above it. As a side effect the overlay's options in the container's mountinfo name
/// no host path. The descriptors close when init execs.
fn pin_layers(plan: &rootfs::Plan) -> Result<(rootfs::Plan, Held), String> {
    let dir = plan.target.parent().unwrap_or(Path::new("/"));
    let pin = |path: &Path| Pinned::open(path).map_err(|e| e.to_string());
    let container = pin(dir)?;
    let (lower, pinned) = match plan.lower_mount {
        // The idmapped template is attached below the container's own directory and found
        // again there by the overlay, crossing that mount.
        Some(_) => (container.via(&dir.join(IDMAPPED_LOWER)), Vec::new()),
        None => {
            let lower = pin(&plan.layers.lower)?;
            (lower.via(&plan.layers.lower), vec![lower])
        }
    };
    let mut held = Held {
        _pinned: pinned,
        _fds: Vec::new(),
    };
    let init_layer = match &plan.init {
        Some(program) => {
            let (layer, programs, fds) = init_layer(plan, program, &container)?;
            held._pinned.push(programs);
            held._fds.extend(fds);
            Some(layer)
        }
        None => None,
    };
    let layers = rootfs::Plan {
        target: container.via(&plan.target),
        layers: rootfs::Layers {
            lower,
            upper: container.via(&plan.layers.upper),
            work: container.via(&plan.layers.work),
        },
        init_layer,
        ..plan.clone()
    };
    held._pinned.push(container);
    Ok((layers, held))
}

/// The builtin init's directory as a detached read-only overlay, and the program opened in it,
/// both made now, while this process is host uid 0 and may search the 0700 directory (the
/// overlay looks its layers up with its maker's credentials later too, and root of a user
/// namespace could not look a name up in the overlay's 0700 root). Bound from there,
/// /dev/fleet-init's line in the container's mountinfo names the program, not its host path (a
/// bind of the host file shows the whole path below the host filesystem's root, the store's
/// included). overlayfs needs a second layer when it has no upper one: the empty mount point of
/// the container's root.
fn init_layer(
    plan: &rootfs::Plan,
    program: &Path,
    container: &Pinned,
) -> Result<(rootfs::InitLayer, Pinned, [OwnedFd; 2]), String> {
    let (Some(dir), Some(name)) = (program.parent(), program.file_name()) else {
        return Err(format!(
            "builtin init {}: not a file path",
            program.display()
        ));
    };
    let programs = Pinned::open(dir).map_err(|e| e.to_string())?;
    let lowerdir = format!(
        "lowerdir={}:{}",
        programs.via(dir).display(),
        container.via(&plan.target).display()
    );
    let mut options = vec![lowerdir.as_str()];
    if plan.userxattr {
        options.push("userxattr");
    }
    let attrs = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
    let failed = |e: std::io::Error| format!("the builtin init {}: {e}", program.display());
    let mount = crate::sys::detached::mount("overlay", &options, attrs).map_err(failed)?;
    let file = nix::fcntl::openat(
        &mount,
        name,
        OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| failed(e.into()))?;
    let layer = rootfs::InitLayer {
        mount: mount.as_raw_fd(),
        program: file.as_raw_fd(),
    };
    Ok((layer, programs, [mount, file]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_never_reports_fails_the_start_at_the_deadline() {
        // The write ends stay open, as a stuck child holds them: no end of file ever comes.
        let (report_rd, _report_wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let (_go_rd, go_wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let err = parent(report_rd, go_wr, |_| Ok(()), Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("did not finish within"), "{err}");
    }
}
