//! The files fleet-node itself puts into a container's own tree at each start, written into the
//! overlay's upper layer before it is mounted: the host template's /etc/hostname (the spec's
//! hostname, every start) and /etc/machine-id (fresh and random the first time, then kept in
//! the upper layer) for the host template and for every template that carries one. So no two
//! containers share one, nor with the host (whose id the host template leaves out) or with the
//! system a tarball was made from (whose id the container's own file covers). A template
//! without one (busybox) gets none: nothing there reads it.
//!
//! The container's root may have shaped that layer to attack the host (a symlink or hard link
//! where a file goes, a directory symlink to a host path), so every write goes through
//! [`crate::safe_write`], which never leaves the tree and never writes through an existing entry.

use std::path::Path;

use fleet_protocol::{ContainerSpec, TemplateRef};

use crate::error::Result;
use crate::safe_write::{Owner, Tree};

/// Writes the per-container files into `upper`, over the template's tree `lower` (the node's
/// cache, not the container's). `owner` is the user namespace's base uid, which must own what
/// the container may change.
pub(crate) fn write(
    upper: &Path,
    lower: &Path,
    spec: &ContainerSpec,
    owner: Option<u32>,
) -> Result<()> {
    let owner = owner.map(|base| Owner {
        uid: base,
        gid: base,
    });
    let tree = Tree::open(upper)?;
    if spec.template == TemplateRef::Host {
        tree.write(
            "etc/hostname",
            format!("{}\n", spec.hostname).as_bytes(),
            0o644,
            owner,
        )?;
    }
    let carries_one = std::fs::symlink_metadata(lower.join("etc/machine-id")).is_ok();
    if spec.template != TemplateRef::Host && !carries_one {
        return Ok(());
    }
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
