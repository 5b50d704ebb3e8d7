//! The target of a move: receive the image into `<root>/incoming/<name>.img` (apart from the
//! containers, so nothing half-received is ever a container), each chunk checked against the
//! shared bounds and decompressed no further than the length it announces, then verify the
//! checksum of the whole and make the container from the image: state first, config last (a
//! node that dies before the config leaves debris the next repair removes, and the source still
//! has the container), then start it when its spec says running.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

use base64::Engine as _;
use fleet_protocol::transfer::{CHUNK_MAX, Chunk, ImageInfo, check_chunk};
use fleet_protocol::{ContainerSpec, DesiredState};

use super::digest::Digest;
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
}

impl Importing {
    /// Checks that `spec.name` is free here and the image fits, and opens a fresh file for it.
    pub(super) fn begin(
        runtime: &Runtime,
        spec: ContainerSpec,
        from: &str,
        image: ImageInfo,
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
        let dir = runtime.store.root().join("incoming");
        private_dir(&dir).map_err(|e| e.to_string())?;
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
        let _ = std::fs::remove_file(&path);
        let file = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| format!("create {}: {e}", path.display()))?;
        file.set_len(image.size)
            .map_err(|e| format!("size {}: {e}", path.display()))?;
        Ok(Importing {
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
        check_chunk(&self.image, chunk.offset, chunk.len)?;
        if chunk.offset < self.next {
            return Err(format!(
                "a chunk at {} overlaps what was received (up to {})",
                chunk.offset, self.next
            ));
        }
        // base64 of at most zstd's bound for CHUNK_MAX bytes.
        let bound = 4 * (zstd::zstd_safe::compress_bound(CHUNK_MAX as usize) / 3 + 2);
        if chunk.data.len() > bound {
            return Err(format!(
                "a chunk of {} encoded bytes: at most {bound} hold {CHUNK_MAX} bytes",
                chunk.data.len()
            ));
        }
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(&chunk.data)
            .map_err(|e| format!("a chunk at {} is not base64: {e}", chunk.offset))?;
        let data = zstd::bulk::decompress(&compressed, chunk.len as usize).map_err(|e| {
            format!(
                "a chunk at {} does not decompress to its {} bytes: {e}",
                chunk.offset, chunk.len
            )
        })?;
        if data.len() != chunk.len as usize {
            return Err(format!(
                "a chunk at {} holds {} bytes, not the {} it announced",
                chunk.offset,
                data.len(),
                chunk.len
            ));
        }
        self.file
            .write_all_at(&data, chunk.offset)
            .map_err(|e| format!("write the image at {}: {e}", chunk.offset))?;
        self.digest.update(chunk.offset, &data);
        self.next = chunk.offset + u64::from(chunk.len);
        Ok(())
    }

    /// Verifies the checksum and makes the container from the image (started if its spec says
    /// running); on any failure nothing of it is left here.
    pub(super) fn commit(
        mut self,
        runtime: &Runtime,
        digest: &str,
        layer_ids: u32,
    ) -> Result<(), String> {
        let got = self.digest.hex();
        if got != digest {
            return Err(format!(
                "the image's checksum is {got}, the source's is {digest}: not used"
            ));
        }
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
            return Err(format!(
                "a container named {name} exists on this host already"
            ));
        }
        let layout = runtime.store.layout(&name);
        let made = (|| -> crate::error::Result<State> {
            private_dir(&layout.dir)?;
            let base = match self.spec.privileged {
                true => None,
                false => Some(runtime.allocate_uid_range(&name)?),
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
            // A disk.from seed was copied into the image on the source (it is not on this host).
            let state = State {
                userns_base: base,
                layer_ids: Some(layer_ids),
                seeded: self.spec.disk.from.is_some(),
                ..State::default()
            };
            runtime.store.write_state(&name, &state)?;
            runtime.store.write_config(&name, &self.spec)?;
            runtime.make_dirs_and_cgroup(&name)?;
            Ok(state)
        })();
        let result = made.and_then(|state| match self.spec.state {
            DesiredState::Running => runtime.launch(&name, &self.spec, state, true),
            DesiredState::Stopped => Ok(()),
        });
        if let Err(e) = result {
            let _ = runtime.remove_everything(&name, Some(&self.spec), &lock);
            return Err(format!("{name} was received but not made here: {e}"));
        }
        Ok(())
    }
}

impl Drop for Importing {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
