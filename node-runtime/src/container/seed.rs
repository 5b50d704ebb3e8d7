//! The first content of a container's writable layer (the spec's `resources.disk.from`): a
//! directory on the host, such as an OpenVZ simfs private area brought over by `fleet import
//! openvz --private`, copied in once before the first start.
//!
//! The copy is `cp -a --one-file-system` (GNU coreutils): owners, modes, hard links, symlinks
//! as links (never followed), device nodes, timestamps and extended attributes (ACLs, file
//! capabilities) kept, and no other mounted filesystem below the directory crossed. The files
//! land with the host ids they had (a simfs area holds the container's own ids, 0 for its
//! root); the start then records the layer as on host ids, so `userns/layer.rs` shifts every
//! owner into the container's range with its no-follow walk, exactly as for a container made
//! privileged and switched to unprivileged. state.json remembers that the copy was made:
//! later starts copy nothing (the files are the container's own by then), and a copy cut off
//! by a crash is made again over the partial one.

use std::path::Path;

use crate::error::{Error, Result};
use crate::store::State;

/// Copies `from` into the empty writable layer `upper` unless `state` says it was done, and
/// records the layer as on host ids. The caller writes `state` (the start does, before init).
pub(crate) fn seed(name: &str, from: &str, upper: &Path, state: &mut State) -> Result<bool> {
    if state.seeded {
        return Ok(false);
    }
    let source = Path::new(from);
    let invalid = |message: String| Error::InvalidSpec {
        name: name.to_owned(),
        message,
    };
    match std::fs::metadata(source) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(invalid(format!("disk.from {from} is not a directory"))),
        Err(e) => {
            return Err(invalid(format!(
                "disk.from {from} cannot be read on this host: {e} (copy the private area there first)"
            )));
        }
    }
    let mut contents = source.as_os_str().to_os_string();
    contents.push("/.");
    crate::disk::command::run(
        "cp",
        [
            "-a".as_ref(),
            "--one-file-system".as_ref(),
            contents.as_os_str(),
            upper.as_os_str(),
        ],
    )
    .map_err(|e| {
        invalid(format!(
            "copying disk.from {from} into the container failed: {e}"
        ))
    })?;
    state.layer_ids = Some(0);
    state.shifting_to = None;
    state.seeded = true;
    Ok(true)
}
