//! The rules `fleet-node` enforces on a container's merged resources (its profile's and its
//! own), checked here with the spec's positions so that `fleet validate` refuses what apply
//! would refuse. Each rule lives in `fleet_protocol`, which the node uses too.

use crate::spec::raw::{RawContainer, RawResources};
use crate::spec::{Diagnostic, Diagnostics};

/// Checks the disk of `merged` (the profile's resources overlaid with the container's own):
/// the size and inode count the node would accept. The error points at the value that breaks
/// the rule, or at the `profile:` that brought it (a built-in profile has no file of its own).
pub fn disk(raw: &RawContainer, merged: &RawResources, d: &mut Diagnostics) {
    let Some(space) = &merged.disk_space else {
        return;
    };
    let inodes = merged.disk_inodes.as_ref();
    let Err(e) = fleet_protocol::disk::check(space.value, inodes.map(|i| i.value)) else {
        return;
    };
    let own = match e.field {
        "disk.inodes" => raw.resources.disk_inodes.as_ref().or(
            // No inode count anywhere: the default for the size, which the size decides.
            raw.resources
                .disk_space
                .as_ref()
                .filter(|_| inodes.is_none()),
        ),
        _ => raw.resources.disk_space.as_ref(),
    };
    let (pos, from) = match (own, &raw.profile) {
        (Some(v), _) => (v.pos, String::new()),
        (None, Some(p)) => (p.pos, format!(" (from profile \"{}\")", p.value)),
        (None, None) => (space.pos, String::new()),
    };
    let mut diag = Diagnostic::at(pos, format!("invalid {} {}{from}", e.field, e.value)).hint(
        format!("{}; the node would refuse this container", e.expected),
    );
    if e.field == "disk.inodes"
        && let Some(size) = raw.resources.disk_space.as_ref().filter(|s| s.pos != pos)
    {
        diag = diag.related(size.pos, "the disk size it is checked against");
    }
    d.push(diag);
}

/// Checks that `disk.user_quota` (from the container or its profile) comes with a disk of the
/// container's own, which the node would refuse otherwise.
pub fn user_quota(merged: &RawResources, d: &mut Diagnostics) {
    let Some(quota) = &merged.disk_user_quota else {
        return;
    };
    let space = merged.disk_space.as_ref().map(|s| s.value);
    if let Err(e) = fleet_protocol::disk::check_user_quota(space, quota.value) {
        d.push(
            Diagnostic::at(quota.pos, format!("invalid {} {}", e.field, e.value)).hint(format!(
                "{}; the node would refuse this container",
                e.expected
            )),
        );
    }
}
