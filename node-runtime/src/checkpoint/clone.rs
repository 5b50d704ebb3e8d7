//! `clone SRC DST`: a new container with the source's data and config under a new name, as
//! OpenVZ's clone is a copy of a directory plus a config. The copy of the writable layer
//! (disk image or upper directory, reflinked where the filesystem can) keeps the source's
//! owners; the clone gets a uid range of its own at its first start, which moves the owners
//! to it (the same step as a container switching ranges). A bridged source's addresses are not
//! copied: the clone needs its own (`address`), or the two would answer for one address.
//! `fleet clone` sends the clone's whole spec instead, its entry in the fleet's spec
//! ([`clone_as`]); the data is the source's either way.

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
    taken(runtime, src, dst)?;
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
    make(runtime, src, &mut spec)?;
    if opts.start {
        runtime.start(dst)?;
    }
    Ok(spec)
}

/// Makes container `spec.name` from `spec` (the orchestrator's, for `fleet clone`) with a copy of
/// `src`'s layer, and starts it if the spec says running. Refused before anything is made when
/// the name exists or the spec's disk is not the kind of layer the source has.
pub fn clone_as(runtime: &Runtime, src: &str, spec: &ContainerSpec) -> Result<()> {
    validate_name(src)?;
    validate_name(&spec.name)?;
    taken(runtime, src, &spec.name)?;
    if runtime.store.read_config(src)?.is_none() {
        return Err(Error::NotFound(src.to_owned()));
    }
    let has = copy::layer_of(runtime, src);
    let wants = match spec.resources.disk_space {
        Some(_) => copy::LayerKind::Disk,
        None => copy::LayerKind::Upper,
    };
    if has != wants {
        let [has, wants] = [has, wants].map(|k| match k {
            copy::LayerKind::Disk => "a disk image (disk.space)",
            copy::LayerKind::Upper => "no disk image (no disk.space)",
        });
        return Err(fail(
            src,
            format!(
                "it has {has} but the spec gives {} {wants}; give both the same kind of disk",
                spec.name
            ),
        ));
    }
    let mut spec = spec.clone();
    make(runtime, src, &mut spec)?;
    if spec.state == DesiredState::Running {
        runtime.start(&spec.name)?;
    }
    Ok(())
}

fn taken(runtime: &Runtime, src: &str, dst: &str) -> Result<()> {
    if runtime.store.read_config(dst)?.is_none() {
        return Ok(());
    }
    Err(fail(
        src,
        format!(
            "container {dst:?} already exists on this node; choose another name (or destroy \
             {dst} first)"
        ),
    ))
}

/// Creates `spec.name` stopped, copies `src`'s layer into it, then writes the spec (its state
/// as asked) last; a copy that fails destroys the half-made clone.
fn make(runtime: &Runtime, src: &str, spec: &mut ContainerSpec) -> Result<()> {
    let dst = spec.name.clone();
    crate::network::validate(&spec.network).map_err(crate::container::network_error(&dst))?;
    let wanted = spec.state;
    spec.state = DesiredState::Stopped;
    runtime.create(spec)?;
    let made = (|| {
        let src_lock = runtime.store.lock(src)?;
        let found = runtime
            .repair(src, &src_lock)?
            .ok_or_else(|| Error::NotFound(src.to_owned()))?;
        let staging = runtime.store.layout(&dst).dir.join(".clone-incoming");
        copy::remove_tree(&staging)?;
        let kind = copy::copy_out(runtime, src, &staging, found.init.is_some())?;
        drop(src_lock);
        let dst_lock = runtime.store.lock(&dst)?;
        copy::copy_in(runtime, &dst, &staging, kind)?;
        copy::remove_tree(&staging)?;
        let mut state = runtime.store.read_state(&dst)?.unwrap_or_default();
        // The copy's owners are the source's; the clone's first start moves them to its range.
        state.layer_ids = Some(found.state.layer_side());
        // Its data is the source's: a `disk.from` of its spec is not copied over it, and a flat
        // root stays one.
        state.seeded = true;
        state.flat_root = found.state.flat_root;
        runtime.store.write_state(&dst, &state)?;
        drop(dst_lock);
        spec.state = wanted;
        runtime.store.write_config(&dst, spec)?;
        Ok(())
    })();
    if let Err(e) = made {
        let _ = runtime.destroy(&dst);
        return Err(e);
    }
    Ok(())
}
