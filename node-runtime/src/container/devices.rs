//! Granted devices (`security.devices`) on a running container: the guard's rules and the nodes
//! in the container's /dev, changed live, with the same init.
//!
//! A grant added: its rule is allowed first, then the host's node is cloned (a detached bind,
//! `open_tree` without following a link, checked by `fstat` to be the device found) and attached
//! in the container's mount namespace by a forked child that joined it, at a name resolved from
//! the container's root with `sys::beneath` (component by component, no symlink followed: the
//! container's /dev is a tmpfs its root may change). A grant taken back: its rule is denied
//! first (no new open succeeds from then on), then the child unmounts the bind, found the same
//! way and checked to be the very device, and removes the empty file under it. A device the
//! container's root replaced is left alone: the denied rule keeps it closed.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use fleet_protocol::devices::DeviceGrant;

use super::Runtime;
use crate::cgroups::devices::{self, HostDevice};
use crate::error::{Error, Result, io_err};
use crate::sys::beneath::Root;
use crate::sys::ns::{self, CloneFlags};
use crate::sys::{mount, process};

/// What the child does in the container's mount namespace.
enum NodeJob {
    /// Attach the detached bind `tree` at the device's path.
    Bind { tree: OwnedFd, device: HostDevice },
    /// Unmount the bind of `device` and remove its empty file.
    Unbind { device: HostDevice },
}

impl Runtime {
    /// Changes the granted devices of container `name`, whose init is `init`, from `old` to
    /// `new`, live (v1 rules, or v2's program replaced). The caller holds the container's lock
    /// and checked that the host allows it ([`devices::live_supported`]).
    pub(crate) fn update_devices_live(
        &self,
        name: &str,
        init: i32,
        old: &[DeviceGrant],
        new: &[DeviceGrant],
    ) -> Result<()> {
        let cgroup = self.cgroup(name);
        let gone: Vec<&DeviceGrant> = old.iter().filter(|g| !new.contains(g)).collect();
        let added: Vec<&DeviceGrant> = new.iter().filter(|g| !old.contains(g)).collect();
        let kept_path =
            |g: &DeviceGrant, list: &[DeviceGrant]| list.iter().any(|o| o.path == g.path);
        let find = |list: &[&DeviceGrant]| {
            list.iter()
                .map(|g| HostDevice::find(name, g))
                .collect::<Result<Vec<_>>>()
        };
        // Rules first: what goes is closed before its node goes, what comes is allowed before
        // its node appears. A changed access is a rule taken back and given again.
        let gone_devices = find(&gone)?;
        let added_devices = find(&added)?;
        let now = HostDevice::find_all(name, new)?;
        devices::change(&cgroup, &gone_devices, &added_devices, &now)?;
        for device in gone_devices.iter().cloned() {
            if !kept_path(&DeviceGrant::from(&device), new) {
                in_mount_ns(name, init, NodeJob::Unbind { device })?;
            }
        }
        for (grant, device) in added.into_iter().zip(added_devices.clone()) {
            if kept_path(grant, old) {
                continue;
            }
            let tree = mount::clone_node(&device.path)
                .map_err(io_err("clone the host's device node", &device.path))?;
            let cloned = File::from(tree.try_clone().map_err(io_err("dup", &device.path))?)
                .metadata()
                .map_err(io_err("stat the clone of", &device.path))?;
            if cloned.rdev() != nix::sys::stat::makedev(device.major, device.minor) {
                return Err(Error::InvalidSpec {
                    name: name.to_owned(),
                    message: format!(
                        "security.devices: {} changed on the host while it was granted",
                        device.path.display()
                    ),
                });
            }
            if let Err(e) = in_mount_ns(name, init, NodeJob::Bind { tree, device }) {
                // Not granted after all: the guard goes back to the old list (best effort; the
                // next update writes it again).
                if let Ok(before) = HostDevice::find_all(name, old) {
                    let _ = devices::change(&cgroup, &added_devices, &gone_devices, &before);
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Runs `job` in a child that joined the user and mount namespaces of `init` (root of the user
/// namespace, so that what it makes in the container's tmpfs /dev has an owner there; in the
/// host's pid namespace, which the container cannot see), and returns its error.
fn in_mount_ns(name: &str, init: i32, job: NodeJob) -> Result<()> {
    let open = |kind: &str| {
        let path = format!("/proc/{init}/ns/{kind}");
        File::open(&path).map_err(io_err("open", path))
    };
    let own_user = std::fs::read_link("/proc/self/ns/user").ok();
    let user = match std::fs::read_link(format!("/proc/{init}/ns/user")).ok() == own_user {
        true => None,
        false => Some(open("user")?),
    };
    let mnt = open("mnt")?;
    // The host's procfs, opened here: the child unmounts through it, never through the
    // container's /proc.
    let proc = nix::fcntl::open(
        "/proc",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| io_err("open", "/proc")(e.into()))?;
    let (read, write) = nix::unistd::pipe().map_err(|e| io_err("pipe for", name)(e.into()))?;
    match process::fork().map_err(io_err("fork for the devices of", name))? {
        process::ForkResult::Child => {
            drop(read);
            process::set_non_dumpable();
            let joined_user = match &user {
                Some(file) => ns::setns(file, CloneFlags::CLONE_NEWUSER)
                    .and_then(|()| process::become_root_in_userns())
                    .map_err(|e| format!("join the user namespace: {e}")),
                None => Ok(()),
            };
            let outcome = joined_user
                .and_then(|()| {
                    ns::setns(&mnt, CloneFlags::CLONE_NEWNS)
                        .map_err(|e| format!("join the mount namespace: {e}"))
                })
                .and_then(|()| run(job, &proc));
            if let Err(message) = outcome {
                process::write_all_raw(write.as_raw_fd(), message.as_bytes());
                process::exit_now(1);
            }
            process::exit_now(0)
        }
        process::ForkResult::Parent { child } => {
            drop(write);
            let mut message = String::new();
            let _ = File::from(read).read_to_string(&mut message);
            let code = process::wait_child(child.as_raw())
                .map_err(io_err("wait for the devices child of", name))?;
            if code == 0 {
                return Ok(());
            }
            Err(Error::Spawn {
                name: name.to_owned(),
                message: format!("security.devices: {message}"),
            })
        }
    }
}

/// The job, in the container's mount namespace (its root is the caller's root now).
fn run(job: NodeJob, proc: &OwnedFd) -> std::result::Result<(), String> {
    let root = Root::open(std::path::Path::new("/")).map_err(|e| format!("open /: {e}"))?;
    match job {
        NodeJob::Bind { tree, device } => {
            let rel = relative(&device);
            if let Some((parent, _)) = rel.rsplit_once('/') {
                root.dir(parent, 0o755).map_err(|e| e.to_string())?;
            }
            let target = root.file(&rel, 0o666).map_err(|e| e.to_string())?;
            mount::attach(tree.as_raw_fd(), &target)
                .map_err(|e| format!("bind {} into /dev: {e}", device.path.display()))
        }
        NodeJob::Unbind { device } => {
            let rel = relative(&device);
            // Missing, behind a link the container made, or not a plain name: not our bind any
            // more, and the denied rule keeps whatever is there closed.
            let Ok(Some(target)) = root.find(&rel) else {
                return Ok(());
            };
            let found = File::from(
                target
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| e.to_string())?,
            )
            .metadata()
            .map_err(|e| e.to_string())?;
            if found.rdev() != nix::sys::stat::makedev(device.major, device.minor) {
                // Not our bind any more: the denied rule keeps whatever is there closed.
                return Ok(());
            }
            mount::unmount_target(&target, proc.as_fd())
                .map_err(|e| format!("unmount {}: {e}", device.path.display()))?;
            root.unlink(&rel).map_err(|e| e.to_string())
        }
    }
}

/// `dev/fuse` for `/dev/fuse`.
fn relative(device: &HostDevice) -> String {
    device
        .path
        .to_string_lossy()
        .trim_start_matches('/')
        .to_owned()
}

impl From<&HostDevice> for DeviceGrant {
    fn from(device: &HostDevice) -> Self {
        DeviceGrant {
            path: device.path.to_string_lossy().into_owned(),
            access: device.access.clone(),
        }
    }
}
