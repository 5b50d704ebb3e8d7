//! The files fleet-node itself puts into a container's own tree at each start, written into the
//! overlay's upper layer before it is mounted: the host template's /etc/hostname (the spec's
//! hostname, every start) and /etc/machine-id (fresh and random the first time, then kept: the
//! template carries none, so no two containers and not the host share one).
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
    // Kept once made (systemd and D-Bus expect it stable); anything else there (missing, a
    // link, a fifo, an empty file) is replaced.
    let kept = tree
        .entry("etc/machine-id")?
        .is_some_and(|e| e.is_file() && e.size == MACHINE_ID_LEN);
    if !kept {
        tree.write("etc/machine-id", &machine_id()?, 0o444, owner)?;
    }
    Ok(())
}

/// Length of a machine-id file: 32 hex digits and a newline.
const MACHINE_ID_LEN: u64 = 33;

/// A fresh machine-id (128 random bits as lowercase hex, as systemd-machine-id-setup writes).
fn machine_id() -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(crate::error::io_err("read", "/dev/urandom"))?;
    let mut text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    text.push('\n');
    Ok(text.into_bytes())
}
