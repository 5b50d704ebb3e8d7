//! The source of a move: stop the container, unmount and detach its disk, mark it as moving,
//! and read the image through one descriptor opened without following links, run by run of
//! allocated extents, each run compressed with zstd; then destroy the copy once the target runs
//! it, or forget the move and start the container again.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::time::Duration;

use base64::Engine as _;
use fleet_protocol::transfer::{CHUNK_MAX, Chunk, Export, ImageInfo};

use super::digest::{Digest, is_zero};
use super::{Mark, clear_mark, extents, read_mark, write_mark};
use crate::container::Runtime;
use crate::disk::Image;
use crate::disk::paths::{default_inodes, image_path, inodes_path};
use crate::store::{ContainerLock, validate_name};

/// zstd level: 3 is zstd's default, a good trade of speed for size on file system images.
const LEVEL: i32 = 3;

/// Seconds a container gets to stop after SIGTERM when a move stops it.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// An export under way: the container's lock (so nothing starts it meanwhile), the image's
/// descriptor and how far the reading got.
#[derive(Debug)]
pub(super) struct Exporting {
    _lock: ContainerLock,
    file: File,
    size: u64,
    pos: u64,
    digest: Digest,
}

/// Stops `name`, marks it as moving to `to` and opens its image.
pub(super) fn begin(
    runtime: &Runtime,
    name: &str,
    to: &str,
) -> Result<(Export, Exporting), String> {
    validate_name(name).map_err(|e| e.to_string())?;
    let lock = runtime.store.lock(name).map_err(|e| e.to_string())?;
    let found = runtime
        .repair(name, &lock)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("container {name:?} not found"))?;
    let layout = runtime.store.layout(name);
    let path = image_path(&layout);
    if found.spec.resources.disk_space.is_none() || !path.exists() {
        return Err(format!(
            "{name} has no disk image to move (its files are in this node's store)"
        ));
    }
    let was_running = found.init.is_some() || read_mark(&layout).is_some_and(|m| m.was_running);
    // Marked before it stops, so that a node that dies right after still knows it ran.
    let mark = Mark {
        to: to.to_owned(),
        was_running,
    };
    write_mark(&layout, &mark).map_err(|e| e.to_string())?;
    let opened = (|| {
        if found.init.is_some() {
            runtime
                .stop_locked(name, STOP_TIMEOUT, &lock)
                .map_err(|e| e.to_string())?;
        }
        // Unmounted, so every write the container made is in the file and nothing changes it.
        Image::open(&path).detach().map_err(|e| e.to_string())?;
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("stat {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        Ok((file, meta))
    })();
    let (file, meta) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            // Nothing left here: forget the move and put the container back as it was.
            clear_mark(&layout);
            drop(lock);
            if was_running {
                let _ = runtime.start(name);
            }
            return Err(e);
        }
    };
    let size = meta.len();
    let inodes = std::fs::read_to_string(inodes_path(&layout))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or_else(|| default_inodes(size));
    let answer = Export {
        spec: found.spec,
        image: ImageInfo {
            size,
            allocated: meta.blocks().saturating_mul(512).min(size),
            inodes,
        },
        layer_ids: found.state.layer_side(),
        was_running,
    };
    let exporting = Exporting {
        _lock: lock,
        file,
        size,
        pos: 0,
        digest: Digest::default(),
    };
    Ok((answer, exporting))
}

impl Exporting {
    /// The next run with data, compressed; `(None, Some(checksum))` after the last one.
    pub(super) fn read(&mut self) -> Result<(Option<Chunk>, Option<String>), String> {
        while let Some((start, end)) =
            extents::next_run(&self.file, self.pos, self.size).map_err(|e| format!("seek: {e}"))?
        {
            let end = end.min(start + u64::from(CHUNK_MAX));
            let mut buf = vec![0u8; (end - start) as usize];
            self.file
                .read_exact_at(&mut buf, start)
                .map_err(|e| format!("read the image at {start}: {e}"))?;
            self.digest.update(start, &buf);
            self.pos = end;
            if is_zero(&buf) {
                continue;
            }
            let compressed =
                zstd::bulk::compress(&buf, LEVEL).map_err(|e| format!("compress: {e}"))?;
            let chunk = Chunk {
                offset: start,
                len: buf.len() as u32,
                data: base64::engine::general_purpose::STANDARD.encode(compressed),
            };
            return Ok((Some(chunk), None));
        }
        self.pos = self.size;
        Ok((None, Some(self.digest.hex())))
    }
}

/// The target runs the container: destroy the copy here (its mark goes with it).
pub(super) fn finish(runtime: &Runtime, name: &str) -> Result<bool, String> {
    runtime.destroy(name).map_err(|e| e.to_string())
}

/// The move failed: forget it and start the container again if the move stopped it.
pub(super) fn abort(runtime: &Runtime, name: &str) -> Result<bool, String> {
    validate_name(name).map_err(|e| e.to_string())?;
    let layout = runtime.store.layout(name);
    let Some(mark) = read_mark(&layout) else {
        return Ok(false);
    };
    clear_mark(&layout);
    if mark.was_running {
        runtime.start(name).map_err(|e| e.to_string())?;
    }
    Ok(true)
}
