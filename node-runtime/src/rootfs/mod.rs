//! The container's root filesystem, built inside its new mount namespace by the process that
//! becomes init: an overlay (template lower, per-container upper; for a `disk.user_quota`
//! container the upper alone, bound, with the template copied in), the host template's read-only
//! binds, private /proc, read-only /sys with the container's own cgroups read-only at
//! /sys/fs/cgroup ([`cgroupfs`]), a minimal /dev, the masked and read-only parts of /proc and
//! /sys ([`masks`]), then pivot_root. Nothing is mounted in the host's namespace, so a dead
//! container leaves no mount.
//!
//! Every name in the tree is resolved through one `sys::beneath::Root`, the overlay's root as a
//! descriptor: no symlink the container left at a mount target is followed, and no mount or
//! directory is made by a path string (docs/security.md, mount targets).
//!
//! Neighbours: `container/start.rs` fills a [`Plan`] in the parent and calls [`setup`] in the
//! forked child; every mount goes through `sys::mount`.

pub mod cgroupfs;
pub mod masks;

use std::path::{Path, PathBuf};

use crate::sys::beneath::{Root, Target};
use crate::sys::mount::{self, Flags};

/// Device nodes bound from the host into the container's /dev.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Everything the child needs, computed before fork.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mount point (exists on the host, empty).
    pub target: PathBuf,
    /// The overlay's directories.
    pub layers: Layers,
    /// Host directories bound read-only at the same path (host template).
    pub host_binds: Vec<PathBuf>,
    /// Host paths to hide behind an empty file inside (the fleet-node binary when a bind exposes
    /// it), as [`masks`] hides /proc files.
    pub hide: Vec<PathBuf>,
    /// A detached idmapped mount of the lower layer (its descriptor is kept open by the caller
    /// until init has exec'd), attached over it before the overlay is mounted, so the
    /// container's range owns the shared template's files (`userns/layer.rs`).
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
    /// Host device nodes the spec grants (`security.devices`), bound at the same name in /dev.
    pub devices: Vec<PathBuf>,
    /// The root is `layers.upper` itself, bound, with no overlay and no lower layer: a
    /// `disk.user_quota` container's, whose root must be its ext4 for the quota tools (its
    /// template was copied onto the disk at the first start: OpenVZ's layout).
    pub flat: bool,
    /// The disk's loop device, bound at the same name in /dev with nodev (it never opens
    /// inside): the quota tools `stat` the device of the root's mount entry and skip a mount
    /// whose device node is missing.
    pub disk_node: Option<PathBuf>,
}

/// The overlay's three directories: host paths in the plan a start makes, paths through init's
/// pinned descriptors in the one init builds the root from.
#[derive(Debug, Clone)]
pub struct Layers {
    /// Lower layer (the cached template).
    pub lower: PathBuf,
    /// Upper layer, the container's own (its whole root when the plan is `flat`).
    pub upper: PathBuf,
    /// Overlay work directory.
    pub work: PathBuf,
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
    if plan.flat {
        // The layer's directory is the store's (reached through init's pinned descriptor).
        mount::bind_root(&plan.layers.upper, &plan.target, libc::MOUNT_ATTR_NODEV)
            .map_err(ctx("bind the root onto", &plan.target))?;
    } else {
        overlay(plan).map_err(ctx("mount overlay on", &plan.target))?;
    }
    let root = Root::open(&plan.target).map_err(ctx("open the root", &plan.target))?;
    for host in &plan.host_binds {
        let at = root.dir(&rel(host), 0o755).map_err(|e| e.to_string())?;
        mount::bind(host, &at, true, true).map_err(at_err("bind read-only", &at))?;
    }
    let nosuid = Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC;
    let proc_dir = dir(&root, "proc")?;
    mount::mount_fs_at("proc", &proc_dir, "proc", nosuid, None)
        .map_err(at_err("mount proc on", &proc_dir))?;
    let sys_dir = dir(&root, "sys")?;
    mount::mount_fs_at("sysfs", &sys_dir, "sysfs", nosuid | Flags::MS_RDONLY, None)
        .map_err(at_err("mount sysfs on", &sys_dir))?;
    cgroupfs::mount_inside(&root, &plan.cgroup)?;
    dev(&root, &plan.devices, plan.disk_node.as_deref())?;
    let source = masks::Source::mount(&root)?;
    if let Some(layer) = &plan.init_layer {
        let at = source.init_dir();
        mount::attach(layer.mount, at)
            .map_err(at_err("attach the builtin init's directory at", at))?;
        let program = PathBuf::from(format!("/proc/self/fd/{}", layer.program));
        crate::init::bind_into(&root, &program)?;
    }
    for host in &plan.hide {
        if let Some(inside) = root.find(&rel(host)).map_err(|e| e.to_string())? {
            source.hide(&inside).map_err(at_err("hide", &inside))?;
        }
    }
    masks::apply(&root, &source)?;
    mount::pivot_into(&root).map_err(ctx("pivot_root into", &plan.target))?;
    Ok(())
}

/// Mounts the root overlay on the store's (host-controlled) mount point, the idmapped template
/// attached first where there is one; everything below the mount point is the container's.
fn overlay(plan: &Plan) -> std::io::Result<()> {
    let Layers { lower, upper, work } = &plan.layers;
    if let Some(fd) = plan.lower_mount {
        mount::attach_path(fd, lower)?;
    }
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if plan.userxattr {
        data.push_str(",userxattr");
    }
    mount::mount_fs("overlay", &plan.target, "overlay", ROOT_FLAGS, Some(&data))
}

/// Flags of the container's root overlay (a start's and a restore's): `nodev`. No device node
/// in the container's layers opens, whoever made it (container root keeps CAP_MKNOD; an imported
/// image, `disk.from` or a tarball template may bring nodes). Only the allowed nodes bound onto
/// /dev, each a mount of the host's devtmpfs, open; /dev's own tmpfs is `nodev` too. On cgroup
/// v1 the device allow-list refuses the rest as well; on v2 fleet-node has none, and this is what
/// keeps a privileged container from a node of a host disk (docs/security.md, "Device nodes").
pub(crate) const ROOT_FLAGS: Flags = Flags::MS_NODEV;

/// A host path as a name in the tree (`/usr` -> `usr`).
fn rel(host: &Path) -> String {
    host.strip_prefix("/").unwrap_or(host).display().to_string()
}

/// Directory `rel` of the tree, made (0755) when missing; never through a link.
pub(crate) fn dir(root: &Root, rel: &str) -> Result<Target, String> {
    root.dir(rel, 0o755).map_err(|e| e.to_string())
}

/// An error about `target` (named as inside the container).
pub(crate) fn at_err<'a>(
    what: &'a str,
    target: &'a Target,
) -> impl FnOnce(std::io::Error) -> String + 'a {
    move |e| format!("{what} {}: {e}", target.path().display())
}

/// A tmpfs /dev with the allowed nodes bound from the host (binding works inside a user
/// namespace too, where mknod does not), the granted ones (`granted`, host paths under /dev,
/// their directories made in the fresh tmpfs), a private devpts and /dev/shm.
fn dev(root: &Root, granted: &[PathBuf], disk_node: Option<&Path>) -> Result<(), String> {
    let dev = dir(root, "dev")?;
    mount::mount_fs_at(
        "tmpfs",
        &dev,
        "tmpfs",
        Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(at_err("mount tmpfs on", &dev))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let node = root
            .file(&format!("dev/{name}"), 0o666)
            .map_err(|e| e.to_string())?;
        mount::bind(&host, &node, false, false).map_err(at_err("bind", &node))?;
    }
    for host in granted {
        let name = rel(host);
        if let Some((parent, _)) = name.rsplit_once('/') {
            dir(root, parent)?;
        }
        let node = root.file(&name, 0o666).map_err(|e| e.to_string())?;
        mount::bind(host, &node, false, false).map_err(at_err("bind", &node))?;
    }
    if let Some(host) = disk_node {
        let node = root.file(&rel(host), 0o600).map_err(|e| e.to_string())?;
        mount::bind_locked(host, &node).map_err(at_err("bind", &node))?;
    }
    let pts = dir(root, "dev/pts")?;
    mount::mount_fs_at(
        "devpts",
        &pts,
        "devpts",
        Flags::MS_NOSUID | Flags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(at_err("mount devpts on", &pts))?;
    let shm = dir(root, "dev/shm")?;
    mount::mount_fs_at(
        "shm",
        &shm,
        "tmpfs",
        Flags::MS_NOSUID | Flags::MS_NODEV | Flags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(at_err("mount tmpfs on", &shm))?;
    for (link, to) in [
        ("dev/ptmx", "pts/ptmx"),
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        root.symlink(link, Path::new(to))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
