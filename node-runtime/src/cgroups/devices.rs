//! The device guard of a container's group: deny everything, then allow the few character
//! devices a container's /dev holds ([`DEVICE_ALLOW_LIST`]) and the host devices its spec grants
//! (`security.devices`, found on the host as [`HostDevice`]s). On v1 the rules are the devices
//! controller's `devices.allow` / `devices.deny`, changed live with [`allow`] and [`deny`]. On v2
//! they are an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`, `device_program.rs`), which
//! [`install_program`] attaches at start and replaces on a live change.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use fleet_protocol::devices::{DeviceGrant, canonical_access, check_access, check_path};

use super::{Cgroup, CgroupRoot, Version, device_program};
use crate::error::{Error, Result, io_err};
use crate::sys::bpf;

pub use super::device_rules::{DEVICE_ALLOW_LIST, Rule};

/// The default list and `granted`, as rules (the v2 program's input).
pub fn rules(granted: &[HostDevice]) -> Vec<Rule> {
    DEVICE_ALLOW_LIST
        .iter()
        .map(|line| Rule::parse(line).expect("the default list parses"))
        .chain(granted.iter().map(|d| Rule {
            kind: Some(d.kind),
            major: Some(d.major as u32),
            minor: Some(d.minor as u32),
            access: d.access.clone(),
        }))
        .collect()
}

/// v2: makes the device program for the default list and `granted` the group's only one: the
/// new program is attached beside the old (while both are there an access needs both, so
/// nothing is allowed that either list denies), then the old are detached. Live on a running
/// group, and the same call at start.
pub fn install_program(dir: &Path, granted: &[HostDevice]) -> Result<()> {
    use std::os::fd::AsFd;
    let group = fs::File::open(dir).map_err(io_err("open cgroup", dir))?;
    let old = bpf::attached_device_programs(group.as_fd())
        .map_err(io_err("list the device programs of", dir))?;
    let code = device_program::encode(&device_program::compile(&rules(granted)));
    let program = bpf::load_device_program(&code, "fleet_devices")
        .map_err(io_err("load the device program for", dir))?;
    bpf::attach_device_program(group.as_fd(), program.as_fd())
        .map_err(io_err("attach the device program to", dir))?;
    for id in old {
        bpf::detach_device_program(group.as_fd(), id)
            .map_err(io_err("detach the old device program from", dir))?;
    }
    Ok(())
}

/// Replaces the group's device rules with the allow-list (v1 `devices.deny` / `devices.allow`).
pub fn apply_allow_list(dir: &Path) -> Result<()> {
    let deny = dir.join("devices.deny");
    fs::write(&deny, "a").map_err(io_err("write a to", &deny))?;
    let allow = dir.join("devices.allow");
    for rule in DEVICE_ALLOW_LIST {
        fs::write(&allow, rule).map_err(io_err("write device rule to", &allow))?;
    }
    Ok(())
}

/// A granted device as found on the host: the node to bind and the cgroup rule allowing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    /// The node on the host, and its name inside the container's /dev.
    pub path: PathBuf,
    /// `c` or `b`.
    pub kind: char,
    /// Device number.
    pub major: u64,
    /// Device number.
    pub minor: u64,
    /// Some of `rwm`, in that order.
    pub access: String,
}

impl HostDevice {
    /// Finds each grant's node on the host (never through a symlink: the node itself must be
    /// a character or block device), checking the grant by the spec's rules first.
    pub fn find_all(container: &str, grants: &[DeviceGrant]) -> Result<Vec<HostDevice>> {
        grants
            .iter()
            .map(|g| HostDevice::find(container, g))
            .collect()
    }

    /// [`HostDevice::find_all`] for one grant.
    pub fn find(container: &str, grant: &DeviceGrant) -> Result<HostDevice> {
        if let Some(why) = check_path(&grant.path).or_else(|| check_access(&grant.access)) {
            return Err(invalid(container, why));
        }
        let path = PathBuf::from(&grant.path);
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| invalid(container, format!("{} on this host: {e}", path.display())))?;
        HostDevice::from_metadata(container, grant, &meta)
    }

    /// The device `grant` names, from the metadata of its node (`lstat`, or `fstat` of a
    /// descriptor opened without following a link); anything but a device node is refused.
    pub fn from_metadata(
        container: &str,
        grant: &DeviceGrant,
        meta: &fs::Metadata,
    ) -> Result<HostDevice> {
        let kind = match meta.file_type() {
            t if t.is_char_device() => 'c',
            t if t.is_block_device() => 'b',
            _ => {
                return Err(invalid(
                    container,
                    format!(
                        "{} on this host is not a device node (a symlink is not followed)",
                        grant.path
                    ),
                ));
            }
        };
        let rdev = meta.rdev();
        Ok(HostDevice {
            path: PathBuf::from(&grant.path),
            kind,
            major: nix::sys::stat::major(rdev),
            minor: nix::sys::stat::minor(rdev),
            access: canonical_access(&grant.access),
        })
    }

    /// Whether the default list already allows this device (`/dev/null` granted again): its
    /// rule is then never denied when the grant goes.
    pub fn is_default(&self) -> bool {
        let number = format!("{} {}:{} ", self.kind, self.major, self.minor);
        DEVICE_ALLOW_LIST.iter().any(|r| r.starts_with(&number))
            || (self.kind == 'c' && self.major == 136)
    }

    /// The `devices.allow` line for this device.
    pub fn rule(&self) -> String {
        format!(
            "{} {}:{} {}",
            self.kind, self.major, self.minor, self.access
        )
    }
}

/// Adds `devices`' rules to a v1 devices cgroup that [`apply_allow_list`] set up; live on a
/// running group (the kernel checks each open against the rules of that moment).
pub fn allow(dir: &Path, devices: &[HostDevice]) -> Result<()> {
    let allow = dir.join("devices.allow");
    for device in devices {
        fs::write(&allow, device.rule()).map_err(io_err("write device rule to", &allow))?;
    }
    Ok(())
}

/// Takes `devices`' rules back from a v1 devices cgroup (each one's every access, `rwm`), except
/// for a device the default list allows. A descriptor opened before stays usable: the kernel
/// checks access at open.
pub fn deny(dir: &Path, devices: &[HostDevice]) -> Result<()> {
    let deny = dir.join("devices.deny");
    for device in devices.iter().filter(|d| !d.is_default()) {
        let rule = format!("{} {}:{} rwm", device.kind, device.major, device.minor);
        fs::write(&deny, rule).map_err(io_err("write device rule to", &deny))?;
    }
    Ok(())
}

/// Sets up the guard of a group `Cgroup::create` just made for `granted`: on v1 their rules on
/// top of the default list create wrote, on v2 the device program.
pub fn guard(cgroup: &Cgroup, granted: &[HostDevice]) -> Result<()> {
    match cgroup.version() {
        Version::V1 => match cgroup.controller_dir("devices") {
            Some(dir) => allow(&dir, granted),
            None => Ok(()),
        },
        Version::V2 => match cgroup.dirs().first() {
            Some(dir) => install_program(dir, granted),
            None => Ok(()),
        },
    }
}

/// Changes a running group's guard from the grants `gone` and `added` to `now` (all of them):
/// on v1 the rules of `gone` denied and those of `added` allowed, on v2 the program for `now`
/// put in place.
pub fn change(
    cgroup: &Cgroup,
    gone: &[HostDevice],
    added: &[HostDevice],
    now: &[HostDevice],
) -> Result<()> {
    match cgroup.version() {
        Version::V1 => {
            let dir = cgroup
                .controller_dir("devices")
                .ok_or_else(|| invalid(cgroup.name(), "no devices controller here".into()))?;
            deny(&dir, gone)?;
            allow(&dir, added)
        }
        Version::V2 => guard(cgroup, now),
    }
}

/// Whether a running container's grants can change on this host: a v1 host with the devices
/// controller mounted, or a v2 host (the program is replaced live).
pub fn live_supported(root: &CgroupRoot) -> bool {
    root.version() == Version::V2 || root.has_controller("devices")
}

fn invalid(container: &str, why: String) -> Error {
    Error::InvalidSpec {
        name: container.to_owned(),
        message: format!("security.devices: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(path: &str, access: &str) -> DeviceGrant {
        DeviceGrant {
            path: path.into(),
            access: access.into(),
        }
    }

    #[test]
    fn a_host_node_becomes_its_cgroup_rule_and_anything_else_is_refused() {
        let found = HostDevice::find_all("c", &[grant("/dev/null", "wr")]).unwrap();
        assert_eq!(found[0].rule(), "c 1:3 rw");
        assert_eq!(found[0].path, Path::new("/dev/null"));
        for (path, why) in [
            ("/dev/no-such-node", "No such file"),
            ("/dev/pts", "under /dev/pts"),
            ("/etc/passwd", "not under /dev/"),
            // A symlink (to /proc/self/fd) is never followed.
            ("/dev/fd", "not a device node"),
        ] {
            let err = HostDevice::find_all("c", &[grant(path, "rw")])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("security.devices") && err.contains(why),
                "{err}"
            );
        }
    }
}
