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
//! privileged and switched to unprivileged. The directory is resolved once and pinned by a
//! descriptor (cp copies from it as its working directory), and must be root's and writable by
//! no one else, so nothing is swapped under the copy. state.json remembers that the copy was made:
//! later starts copy nothing (the files are the container's own by then), and a copy cut off
//! by a crash is made again over the partial one.
//!
//! A `disk.user_quota` container's root is its disk's layer alone (no overlay: the quota tools
//! need an ext4 at `/`), so at its first start the template's own tree is seeded the same way
//! ([`seed_template`]).

use std::os::fd::AsRawFd;
use std::path::Path;

use nix::fcntl::{OFlag, ResolveFlag};

use crate::error::{Error, Result, io_err};
use crate::store::State;

/// Copies `from` into the empty writable layer `upper` unless `state` says it was done, and
/// records the layer as on host ids. The caller writes `state` (the start does, before init).
pub(crate) fn seed(name: &str, from: &str, upper: &Path, state: &mut State) -> Result<bool> {
    copy_in(name, "disk.from", from, upper, state)
}

/// The first content of a flat root (`rootfs::Plan::flat`, a `disk.user_quota` container's):
/// the template's own tree `lower` (host ids), copied the same way and shifted the same way,
/// unless `disk.from` was (an OpenVZ private area is a whole root already).
pub(crate) fn seed_template(
    name: &str,
    lower: &Path,
    upper: &Path,
    state: &mut State,
) -> Result<bool> {
    let from = lower.to_string_lossy();
    copy_in(name, "the template's tree", &from, upper, state)
}

/// [`seed`] of `from`, named `label` in errors.
fn copy_in(name: &str, label: &str, from: &str, upper: &Path, state: &mut State) -> Result<bool> {
    if state.seeded {
        return Ok(false);
    }
    let source = Path::new(from);
    let invalid = |message: String| Error::InvalidSpec {
        name: name.to_owned(),
        message,
    };
    // Pinned before it is checked and copied: resolved once (an operator's links are fine), then
    // opened with no link allowed anywhere on the way, so the directory checked is the one cp
    // copies, whatever is renamed or swapped on the way meanwhile.
    let real = source.canonicalize().map_err(|e| {
        invalid(format!(
            "{label} {from} cannot be read on this host: {e} (copy the private area there first)"
        ))
    })?;
    let dir = nix::fcntl::openat2(
        nix::fcntl::AT_FDCWD,
        &real,
        nix::fcntl::OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS),
    )
    .map_err(|e| {
        invalid(format!(
            "{label} {from} ({}) cannot be opened: {e}",
            real.display()
        ))
    })?;
    let meta =
        nix::sys::stat::fstat(&dir).map_err(|e| invalid(format!("{label} {from}: stat: {e}")))?;
    if meta.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(invalid(format!("{label} {from} is not a directory")));
    }
    // cp runs as root: a directory another user owns or may write could hold anything by the
    // time it is read (and be swapped for another of theirs).
    if meta.st_uid != 0 {
        return Err(invalid(format!(
            "{label} {from} must be owned by root (it is uid {}): fleet-node copies it as root",
            meta.st_uid
        )));
    }
    if meta.st_mode & 0o022 != 0 {
        return Err(invalid(format!(
            "{label} {from} is writable by group or others (mode {:o}): make it 0755 or \
             stricter before it is copied",
            meta.st_mode & 0o7777
        )));
    }
    let pinned = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let upper = std::path::absolute(upper).map_err(io_err("resolve", upper))?;
    let out = std::process::Command::new("cp")
        .args(["-a", "--one-file-system", "./."])
        .arg(&upper)
        // cp's working directory is the very directory opened above (chdir happens in the child
        // before exec, while the descriptor is still open there).
        .current_dir(&pinned)
        .output()
        .map_err(|e| invalid(format!("copying {label} {from}: run cp: {e}")))?;
    if !out.status.success() {
        return Err(invalid(format!(
            "copying {label} {from} into the container failed: cp: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    state.layer_ids = Some(0);
    state.shifting_to = None;
    state.seeded = true;
    Ok(true)
}
