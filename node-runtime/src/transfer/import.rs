//! The target of a move: receive the image into `<root>/incoming/<name>.img` (apart from the
//! containers, so nothing half-received is ever a container), each chunk checked against the
//! shared bounds and decompressed no further than the length it announces, then verify the
//! checksum of the whole and make the container from the image: state first, config last (a
//! node that dies before the config leaves debris the next repair removes, and the source still
//! has the container), then start it when its spec says running.

use std::fs::File;
use std::path::PathBuf;

use fleet_protocol::transfer::{Chunk, ImageInfo};
use fleet_protocol::{ContainerSpec, DesiredState};

use super::digest::Digest;
use super::live;
use crate::checkpoint::RestoreReport;
use crate::container::Runtime;
use crate::disk::paths::{image_path, inodes_path};
use crate::store::{State, atomic_write, private_dir};

/// The largest image a node accepts (a sanity bound on what the other side says).
pub const IMAGE_MAX: u64 = 16 << 40;

/// Free space kept beyond the image's allocated bytes (file system metadata, logs).
const ROOM_MARGIN: u64 = 64 << 20;

/// An import under way.
#[derive(Debug)]
pub(super) struct Importing {
    spec: ContainerSpec,
    image: ImageInfo,
    path: PathBuf,
    file: File,
    next: u64,
    digest: Digest,
    committed: bool,
    /// A live move's dump, received after the image.
    checkpoint: Option<live::Incoming>,
    /// Its pre-dump rounds, received before the import began.
    rounds: super::pre_dump::Rounds,
}

impl Importing {
    /// Checks that `spec.name` is free here and the image fits, and opens a fresh file for it.
    pub(super) fn begin(
        runtime: &Runtime,
        spec: ContainerSpec,
        from: &str,
        image: ImageInfo,
        checkpoint: Option<u64>,
        rounds: super::pre_dump::Rounds,
    ) -> Result<Importing, String> {
        crate::container::validate_spec(&spec).map_err(|e| e.to_string())?;
        crate::template::check(&spec.template, &runtime.sources).map_err(|e| e.to_string())?;
        let name = spec.name.clone();
        if spec.resources.disk_space.is_none() {
            return Err(format!(
                "{name} comes from {from} without resources.disk_space"
            ));
        }
        if image.size == 0 || image.size > IMAGE_MAX || image.allocated > image.size {
            return Err(format!(
                "an image of {} bytes ({} allocated): valid is 1 to {IMAGE_MAX} bytes, no more allocated than its size",
                image.size, image.allocated
            ));
        }
        if runtime.store.layout(&name).config.exists() {
            return Err(format!(
                "a container named {name} exists on this host already"
            ));
        }
        let dir = super::incoming_dir(runtime)?;
        let free = nix::sys::statvfs::statvfs(&dir)
            .map(|s| s.blocks_available() * s.fragment_size())
            .map_err(|e| format!("statvfs {}: {e}", dir.display()))?;
        if free < image.allocated.saturating_add(ROOM_MARGIN) {
            return Err(format!(
                "no room for {name}'s disk: it holds {} bytes, {free} are free here",
                image.allocated
            ));
        }
        let path = dir.join(format!("{name}.img"));
        let file = super::receive_file(&path)?;
        file.set_len(image.size)
            .map_err(|e| format!("size {}: {e}", path.display()))?;
        let checkpoint = checkpoint
            .map(|bytes| live::Incoming::begin(runtime, &name, None, bytes))
            .transpose()?;
        Ok(Importing {
            checkpoint,
            rounds,
            spec,
            image,
            path,
            file,
            next: 0,
            digest: Digest::default(),
            committed: false,
        })
    }

    /// The container's name.
    pub(super) fn name(&self) -> &str {
        &self.spec.name
    }

    /// Writes one chunk: inside the image, after the previous one, no longer than announced.
    pub(super) fn write(&mut self, chunk: &Chunk) -> Result<(), String> {
        if chunk.offset < self.next {
            return Err(format!(
                "a chunk at {} overlaps what was received (up to {})",
                chunk.offset, self.next
            ));
        }
        super::chunk::write_at(&self.file, &self.image, chunk, &mut self.digest, "image")?;
        self.next = chunk.offset + u64::from(chunk.len);
        Ok(())
    }

    /// Writes one chunk of a live move's checkpoint stream.
    pub(super) fn write_checkpoint(&mut self, chunk: &Chunk) -> Result<(), String> {
        match &mut self.checkpoint {
            Some(incoming) => incoming.write(chunk),
            None => Err(format!(
                "the import of {} is not a live move: it takes no checkpoint",
                self.spec.name
            )),
        }
    }

    /// Verifies the checksums and makes the container from the image: restored from the
    /// checkpoint in a live move (its report returned), else started if its spec says running.
    /// On any failure nothing of it is left here.
    pub(super) fn commit(
        mut self,
        runtime: &Runtime,
        digest: &str,
        layer_ids: u32,
        checkpoint_digest: Option<&str>,
        pre_dump_digests: &[String],
    ) -> Result<Option<RestoreReport>, Refused> {
        let got = self.digest.hex();
        if got != digest {
            return Err(format!(
                "the image's checksum is {got}, the source's is {digest}: not used"
            )
            .into());
        }
        let checkpoint = match (self.checkpoint.take(), checkpoint_digest) {
            (Some(incoming), Some(digest)) => {
                incoming.verify(digest)?;
                Some(incoming)
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err("a live move's commit without the checkpoint's checksum".into());
            }
            (None, Some(_)) => {
                return Err("a checkpoint's checksum for a move that sent none".into());
            }
        };
        let rounds = std::mem::take(&mut self.rounds).verify(pre_dump_digests)?;
        self.file
            .sync_all()
            .map_err(|e| format!("sync {}: {e}", self.path.display()))?;
        let name = self.spec.name.clone();
        let lock = runtime.store.lock(&name).map_err(|e| e.to_string())?;
        if runtime
            .repair(&name, &lock)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err(format!("a container named {name} exists on this host already").into());
        }
        let layout = runtime.store.layout(&name);
        let made = (|| -> crate::error::Result<State> {
            private_dir(&layout.dir)?;
            // A restored tree keeps the user namespace it was dumped with: the target gives
            // it the source's range (the layer's owners are on it already), or refuses.
            let base = match (self.spec.privileged, &checkpoint) {
                (true, _) => None,
                (false, Some(_)) if layer_ids != 0 => {
                    Some(runtime.allocate_uid_range_at(&name, layer_ids)?)
                }
                (false, _) => Some(runtime.allocate_uid_range(&name)?),
            };
            let image = image_path(&layout);
            std::fs::rename(&self.path, &image)
                .map_err(crate::error::io_err("move into place", &image))?;
            self.committed = true;
            atomic_write(
                &inodes_path(&layout),
                self.image.inodes.to_string().as_bytes(),
            )?;
            // The owners are still on the source's side: the first start shifts them to this
            // node's range for the container (userns/layer.rs).
            // A disk.from seed, or a quota container's template, was copied into the image on
            // the source (it is not on this host).
            let quota = self.spec.disk.user_quota;
            let state = State {
                userns_base: base,
                layer_ids: Some(layer_ids),
                seeded: self.spec.disk.from.is_some() || quota,
                flat_root: quota,
                ..State::default()
            };
            runtime.store.write_state(&name, &state)?;
            runtime.store.write_config(&name, &self.spec)?;
            runtime.make_dirs_and_cgroup(&name)?;
            Ok(state)
        })();
        // (the error's own advice, to move it cold, is the orchestrator's to follow)
        if let Err(crate::error::Error::UidRangeTaken { base, .. }) = &made {
            let message = format!(
                "its processes keep the user namespace they were dumped with (host ids from \
                 {base}), and another container of this node holds that range or it lies \
                 outside the node's pool"
            );
            let _ = runtime.remove_everything(&name, Some(&self.spec), &lock);
            return Err(Refused::LiveOnly(message));
        }
        let result = made.map_err(|e| e.to_string()).and_then(|state| {
            match (&checkpoint, self.spec.state) {
                (Some(incoming), _) => {
                    live::restore_received(runtime, &name, incoming, &rounds, &lock).map(Some)
                }
                (None, DesiredState::Running) => runtime
                    .launch(&name, &self.spec, state, true)
                    .map(|()| None)
                    .map_err(|e| e.to_string()),
                (None, DesiredState::Stopped) => Ok(None),
            }
        });
        match result {
            Ok(restored) => Ok(restored),
            Err(e) => {
                let _ = runtime.remove_everything(&name, Some(&self.spec), &lock);
                Err(format!("{name} was received but not made here: {e}").into())
            }
        }
    }
}

/// Why a commit made nothing.
#[derive(Debug)]
pub(super) enum Refused {
    /// A live move's tree cannot be restored here, though the container could come cold.
    LiveOnly(String),
    /// Anything else.
    Failed(String),
}

impl From<String> for Refused {
    fn from(message: String) -> Refused {
        Refused::Failed(message)
    }
}

impl From<&str> for Refused {
    fn from(message: &str) -> Refused {
        Refused::Failed(message.to_owned())
    }
}

impl Drop for Importing {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
