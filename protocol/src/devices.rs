//! The `security.devices` field: host device nodes a container may use beyond the default few
//! (`/dev/null`, `/dev/zero`, ...), OpenVZ's `DEVICES=` / `vzctl set --devnodes`. The rules both
//! sides check: `fleet validate` with the value's position, the node again before a start.
//!
//! The node binds each granted node from the host's /dev into the container's fresh /dev (at the
//! same name) and, on cgroup v1, adds `TYPE MAJOR:MINOR ACCESS` to the container's
//! `devices.allow` after its deny-all and default list (docs/node-runtime.md, "Devices").

use serde::{Deserialize, Serialize};

/// One device a container may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceGrant {
    /// The node's path on the host, which is also its path inside (`/dev/fuse`, `/dev/net/tun`).
    pub path: String,
    /// What the container may do with it: some of `r` (read), `w` (write), `m` (mknod), in
    /// that order, as the device cgroup writes them.
    #[serde(default = "default_access")]
    pub access: String,
}

/// `rwm`, the access a grant without one gets.
pub fn default_access() -> String {
    DEFAULT_ACCESS.to_owned()
}

/// The access a grant without one gets.
pub const DEFAULT_ACCESS: &str = "rwm";

/// Parts of /dev that the node mounts itself (devpts, the shm tmpfs): a grant may not name a
/// node under them.
pub const OWN_MOUNTS: &[&str] = &["/dev/pts", "/dev/shm"];

/// Why a grant's path is refused, or `None` when it is valid: an absolute path of plain names
/// under /dev (no `.`, `..` or empty component), not /dev itself, not under the node's own
/// mounts there.
pub fn check_path(path: &str) -> Option<String> {
    let Some(rest) = path.strip_prefix("/dev/") else {
        return Some(format!(
            "{path:?} is not under /dev/; a device is named by its node's path on the host, \
             such as /dev/fuse"
        ));
    };
    if rest
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some(format!(
            "{path:?} is not a plain path: no empty, `.` or `..` component"
        ));
    }
    if let Some(own) = OWN_MOUNTS
        .iter()
        .find(|own| path == **own || path.starts_with(&format!("{own}/")))
    {
        return Some(format!(
            "{path:?} is under {own}, which the node mounts fresh in every container"
        ));
    }
    None
}

/// Why an access string is refused, or `None` when it is some of `r`, `w`, `m`, each once.
pub fn check_access(access: &str) -> Option<String> {
    let mut seen = String::new();
    for c in access.chars() {
        if !"rwm".contains(c) || seen.contains(c) {
            return Some(format!(
                "access {access:?} is not some of r (read), w (write) and m (mknod), each once"
            ));
        }
        seen.push(c);
    }
    seen.is_empty()
        .then(|| "access is empty: give some of r, w and m (rwm when unset)".to_owned())
}

/// Why a list of grants is refused (the first problem), or `None`: each path and access valid,
/// no path granted twice. The node checks a spec with it; `fleet validate` reports each problem
/// at its position with the same rules.
pub fn check_grants(grants: &[DeviceGrant]) -> Option<String> {
    for (i, g) in grants.iter().enumerate() {
        if let Some(why) = check_path(&g.path).or_else(|| check_access(&g.access)) {
            return Some(format!("security.devices: {why}"));
        }
        if grants[..i].iter().any(|o| o.path == g.path) {
            return Some(format!(
                "security.devices: device {} is granted twice",
                g.path
            ));
        }
    }
    None
}

/// `access` in the device cgroup's order (`wr` becomes `rw`).
pub fn canonical_access(access: &str) -> String {
    "rwm".chars().filter(|c| access.contains(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plain_names_under_dev_outside_the_nodes_own_mounts() {
        assert_eq!(check_path("/dev/fuse"), None);
        assert_eq!(check_path("/dev/net/tun"), None);
        for bad in [
            "/etc/passwd",
            "/dev/",
            "/dev/../etc/shadow",
            "/dev/net//tun",
            "/dev/pts/0",
            "/dev/shm",
            "dev/fuse",
        ] {
            assert!(check_path(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn access_is_some_of_rwm_each_once() {
        for good in ["r", "rw", "rwm", "wr", "m"] {
            assert_eq!(check_access(good), None, "{good}");
        }
        for bad in ["", "rr", "rwx", "RW"] {
            assert!(check_access(bad).is_some(), "{bad}");
        }
        assert_eq!(canonical_access("mwr"), "rwm");
    }

    #[test]
    fn a_list_of_grants_is_refused_for_its_first_bad_or_repeated_entry() {
        let g = |path: &str, access: &str| DeviceGrant {
            path: path.into(),
            access: access.into(),
        };
        assert_eq!(
            check_grants(&[g("/dev/fuse", "rw"), g("/dev/net/tun", "r")]),
            None
        );
        let twice = check_grants(&[g("/dev/fuse", "rw"), g("/dev/fuse", "r")]).unwrap();
        assert!(twice.contains("granted twice"), "{twice}");
        let bad = check_grants(&[g("/dev/fuse", "rwx")]).unwrap();
        assert!(bad.contains("access \"rwx\""), "{bad}");
    }

    #[test]
    fn a_grant_without_access_gets_rwm() {
        let g: DeviceGrant = serde_json::from_str(r#"{"path":"/dev/fuse"}"#).unwrap();
        assert_eq!(g.access, "rwm");
    }
}
