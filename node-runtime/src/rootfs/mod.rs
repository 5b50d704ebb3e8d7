//! The container's root filesystem, built inside its new mount namespace by the process that
//! becomes init: an overlay (template lower, per-container upper), the host template's read-only
//! binds, private /proc, read-only /sys with the container's own cgroups read-only at
//! /sys/fs/cgroup ([`cgroupfs`]), a minimal /dev, the masked and read-only parts of /proc and
//! /sys ([`masks`]), then pivot_root. Nothing is mounted in the host's namespace, so a dead
//! container leaves no mount.
//!
//! Neighbours: `container/start.rs` fills a [`Plan`] in the parent and calls [`setup`] in the
//! forked child; every mount goes through `sys::mount`.

pub mod cgroupfs;
pub mod masks;

use std::fs;
use std::path::{Path, PathBuf};

use crate::sys::mount::{self, Flags};

/// Device nodes bound from the host into the container's /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Everything the child needs, computed before fork.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mount point (exists on the host, empty).
    pub target: PathBuf,
    /// Overlay lower layer (the cached template).
    pub lower: PathBuf,
    /// Overlay upper layer.
    pub upper: PathBuf,
    /// Overlay work directory.
    pub work: PathBuf,
    /// Host directories bound read-only at the same path (host template).
    pub host_binds: Vec<PathBuf>,
    /// Host paths to hide behind an empty file inside (the fleet-node binary when a bind exposes
    /// it), as [`masks`] hides /proc files.
    pub hide: Vec<PathBuf>,
    /// A detached idmapped mount of `lower` (its descriptor is kept open by the caller until
    /// init has exec'd), attached over `lower` before the overlay is mounted, so the container's
    /// range owns the shared template's files (`userns/layer.rs`).
    pub lower_mount: Option<std::os::fd::RawFd>,
    /// Overlay metadata in `user.overlay.*` xattrs, which an overlay mounted inside a user
    /// namespace can write (without it removing a directory of the template fails with EIO).
    pub userxattr: bool,
    /// The cgroup filesystems to mount read-only at /sys/fs/cgroup.
    pub cgroup: cgroupfs::CgroupLayout,
    /// The builtin init on the host (`crate::init`), bound read-only at `/dev/fleet-init`.
    pub init: Option<PathBuf>,
    /// Where [`setup`] finds the builtin init: set by `container/spawn.rs` in the child, from
    /// `init`, while it is still host uid 0.
    pub init_layer: Option<InitLayer>,
}

/// The builtin init's host directory as a detached read-only overlay, and the program opened
/// in it (`O_PATH`). [`setup`] attaches the overlay inside the mask source and binds the
/// program from it, so mountinfo shows the program's name and no host path. Both descriptors
/// are kept open by the caller until init has exec'd.
#[derive(Debug, Clone)]
pub struct InitLayer {
    /// The detached mount.
    pub mount: std::os::fd::RawFd,
    /// The program, opened through the detached mount.
    pub program: std::os::fd::RawFd,
}

/// Builds the tree and pivots into it. Runs in the forked child, in its new mount namespace.
pub fn setup(plan: &Plan) -> Result<(), String> {
    let ctx = |what: &str, path: &Path| {
        let what = what.to_owned();
        let path = path.display().to_string();
        move |e: std::io::Error| format!("{what} {path}: {e}")
    };
    mount::make_rprivate().map_err(ctx("make private", Path::new("/")))?;
    if let Some(fd) = plan.lower_mount {
        crate::sys::idmap::attach(fd, &plan.lower).map_err(ctx("attach idmapped", &plan.lower))?;
    }
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        plan.lower.display(),
        plan.upper.display(),
        plan.work.display()
    );
    if plan.userxattr {
        data.push_str(",userxattr");
    }
    mount::mount_fs(
        "overlay",
        &plan.target,
        "overlay",
        Flags::empty(),
        Some(&data),
    )
    .map_err(ctx("mount overlay on", &plan.target))?;
    let t = &plan.target;
    for host in &plan.host_binds {
        let inside = t.join(host.strip_prefix("/").unwrap_or(host));
        let _ = fs::create_dir_all(&inside);
        mount::bind(host, &inside, true).map_err(ctx("bind read-only", &inside))?;
    }
    let proc_dir = t.join("proc");
    let _ = fs::create_dir_all(&proc_dir);
    let nosuid = Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    mount::mount_fs("proc", &proc_dir, "proc", nosuid, None)
        .map_err(ctx("mount proc on", &proc_dir))?;
    let sys_dir = t.join("sys");
    let _ = fs::create_dir_all(&sys_dir);
    mount::mount_fs("sysfs", &sys_dir, "sysfs", nosuid | Flags::MS_RDONLY, None)
        .map_err(ctx("mount sysfs on", &sys_dir))?;
    cgroupfs::mount_inside(t, &plan.cgroup)?;
    dev(t)?;
    let source =
        masks::Source::mount(t).map_err(ctx("mount the mask source on", &t.join(masks::SOURCE)))?;
    if let Some(layer) = &plan.init_layer {
        let at = source.init_dir();
        crate::sys::idmap::attach(layer.mount, at)
            .map_err(ctx("attach the builtin init's directory at", at))?;
        let program = PathBuf::from(format!("/proc/self/fd/{}", layer.program));
        crate::init::bind_into(&t.join("dev"), &program)?;
    }
    for host in &plan.hide {
        let inside = t.join(host.strip_prefix("/").unwrap_or(host));
        if inside.exists() {
            source.hide(&inside).map_err(ctx("hide", &inside))?;
        }
    }
    masks::apply(t, &source)?;
    mount::pivot_into(t).map_err(ctx("pivot_root into", t))?;
    Ok(())
}

/// A tmpfs /dev with the allowed nodes bound from the host (binding works inside a user
/// namespace too, where mknod does not), a private devpts and /dev/shm.
fn dev(t: &Path) -> Result<(), String> {
    let dev = t.join("dev");
    let _ = fs::create_dir_all(&dev);
    mount::mount_fs(
        "tmpfs",
        &dev,
        "tmpfs",
        Flags::MS_NOSUID | Flags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(|e| format!("mount tmpfs on {}: {e}", dev.display()))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let node = dev.join(name);
        fs::write(&node, b"").map_err(|e| format!("create {}: {e}", node.display()))?;
        mount::bind(&host, &node, false).map_err(|e| format!("bind {}: {e}", node.display()))?;
    }
    let pts = dev.join("pts");
    let _ = fs::create_dir_all(&pts);
    mount::mount_fs(
        "devpts",
        &pts,
        "devpts",
        Flags::MS_NOSUID | Flags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| format!("mount devpts on {}: {e}", pts.display()))?;
    let shm = dev.join("shm");
    let _ = fs::create_dir_all(&shm);
    mount::mount_fs(
        "shm",
        &shm,
        "tmpfs",
        Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(|e| format!("mount tmpfs on {}: {e}", shm.display()))?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(to, dev.join(link));
    }
    Ok(())
}
