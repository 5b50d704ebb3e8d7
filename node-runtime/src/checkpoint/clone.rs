//! `clone SRC DST`: a new container with the source's data and config under a new name, as
//! OpenVZ's clone is a copy of a directory plus a config. The copy of the writable layer
//! (disk image or upper directory, reflinked where the filesystem can) keeps the source's
//! owners; the clone gets a uid range of its own at its first start, which moves the owners
//! to it (the same step as a container switching ranges). A bridged source's addresses are not
//! copied: the clone needs its own (`address`), or the two would answer for one address.

use fleet_protocol::{ContainerSpec, DesiredState};

use super::copy;
use crate::container::Runtime;
use crate::error::{Error, Result};
use crate::store::validate_name;

/// What to change in the clone's spec.
#[derive(Debug, Clone, Default)]
pub struct CloneOptions {
    /// The clone's addresses (CIDR); required when the source has any.
    pub addresses: Vec<String>,
    /// Start the clone once made.
    pub start: bool,
}

fn fail(name: &str, message: String) -> Error {
    Error::Checkpoint {
        verb: "clone",
        name: name.to_owned(),
        message,
    }
}

/// Makes `dst` from `src`; returns the clone's spec. Nothing is made when `dst` exists or the
/// source has addresses and none are given; a copy that fails is rolled back.
pub fn clone(
    runtime: &Runtime,
    src: &str,
    dst: &str,
    opts: &CloneOptions,
) -> Result<ContainerSpec> {
    validate_name(src)?;
    validate_name(dst)?;
    if runtime.store.read_config(dst)?.is_some() {
        return Err(fail(
            src,
            format!(
                "container {dst:?} already exists on this node; choose another name (or \
                 fleet-node destroy {dst} first)"
            ),
        ));
    }
    let source = runtime
        .store
        .read_config(src)?
        .ok_or_else(|| Error::NotFound(src.to_owned()))?;
    if !source.network.addresses.is_empty() && opts.addresses.is_empty() {
        return Err(fail(
            src,
            format!(
                "it has the address {}; give the clone its own with --address CIDR (two \
                 containers cannot answer for one address)",
                source.network.addresses.join(", ")
            ),
        ));
    }
    let mut spec = source.clone();
    spec.name = dst.to_owned();
    if source.hostname == source.name {
        spec.hostname = dst.to_owned();
    }
    if !opts.addresses.is_empty() {
        spec.network.addresses = opts.addresses.clone();
    }
    crate::network::validate(&spec.network).map_err(crate::container::network_error(dst))?;
    let wanted = spec.state;
    spec.state = DesiredState::Stopped;
    runtime.create(&spec)?;
    let made = (|| {
        let src_lock = runtime.store.lock(src)?;
        let found = runtime
            .repair(src, &src_lock)?
            .ok_or_else(|| Error::NotFound(src.to_owned()))?;
        let staging = runtime.store.layout(dst).dir.join(".clone-incoming");
        copy::remove_tree(&staging)?;
        let kind = copy::copy_out(runtime, src, &staging, found.init.is_some())?;
        drop(src_lock);
        let dst_lock = runtime.store.lock(dst)?;
        copy::copy_in(runtime, dst, &staging, kind)?;
        copy::remove_tree(&staging)?;
        let mut state = runtime.store.read_state(dst)?.unwrap_or_default();
        // The copy's owners are the source's; the clone's first start moves them to its range.
        state.layer_ids = Some(found.state.layer_side());
        runtime.store.write_state(dst, &state)?;
        drop(dst_lock);
        spec.state = wanted;
        runtime.store.write_config(dst, &spec)?;
        Ok(())
    })();
    if let Err(e) = made {
        let _ = runtime.destroy(dst);
        return Err(e);
    }
    if opts.start {
        runtime.start(dst)?;
    }
    Ok(spec)
}
