//! The files fleet-node itself puts into a container's own tree at each start (today the host
//! template's /etc/hostname), written into the overlay's upper layer before it is mounted.
//!
//! The container's root may have shaped that layer to attack the host (a symlink or hard link
//! where a file goes, a directory symlink to a host path), so every write goes through
//! [`crate::safe_write`], which never leaves the tree and never writes through an existing entry.

use std::path::Path;

use fleet_protocol::ContainerSpec;

use crate::error::Result;
use crate::safe_write::{Owner, Tree};

/// Writes the per-container files of a host-template container into `upper`. `owner` is the
/// user namespace's base uid, which must own what the container may change.
pub(crate) fn write(upper: &Path, spec: &ContainerSpec, owner: Option<u32>) -> Result<()> {
    let owner = owner.map(|base| Owner {
        uid: base,
        gid: base,
    });
    let tree = Tree::open(upper)?;
    tree.write(
        "etc/hostname",
        format!("{}\n", spec.hostname).as_bytes(),
        0o644,
        owner,
    )?;
    Ok(())
}
