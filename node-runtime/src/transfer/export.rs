//! The source of a move: stop the container, unmount and detach its disk, mark it as moving,
//! and read the image through one descriptor opened without following links, run by run of
//! allocated extents, each run compressed with zstd; then destroy the copy once the target runs
//! it, or forget the move and start the container again.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::time::Duration;

use fleet_protocol::transfer::{CHUNK_MAX, Chunk, Export, ImageInfo};

use super::digest::{Digest, is_zero};
use super::pre_dump::PreDumping;
use super::{Mark, clear_mark, extents, live, read_mark, write_mark};
use crate::container::Runtime;
use crate::disk::Image;
use crate::disk::paths::{default_inodes, image_path, inodes_path};
use crate::store::{ContainerLock, validate_name};

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
    /// A live move's dump, sent after the image.
    checkpoint: Option<live::Outgoing>,
}

/// Stops `name`, marks it as moving to `to` and opens its image.
pub(super) fn begin(
    runtime: &Runtime,
    name: &str,
    to: &str,
    live: bool,
    pre_dumped: Option<PreDumping>,
) -> Result<(Export, Exporting), String> {
    validate_name(name).map_err(|e| e.to_string())?;
    // After pre-dump rounds their lock is held already, and the dump follows them.
    let (lock, pre_dumps) = match pre_dumped {
        Some(rounds) => rounds.hand_over(),
        None => (runtime.store.lock(name).map_err(|e| e.to_string())?, 0),
    };
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
    let earlier = read_mark(&layout);
    if found.init.is_none() && earlier.as_ref().is_some_and(|m| m.live) {
        // An earlier live move was cut off after its dump: the container is put back first
        // (restored from that dump), and this move starts from a running container.
        live::put_back(runtime, name, &lock).log(name);
        clear_mark(&layout);
        drop(lock);
        return begin(runtime, name, to, live, None);
    }
    let was_running = found.init.is_some() || earlier.is_some_and(|m| m.was_running);
    let live = live && found.init.is_some();
    // Marked before it stops, so that a node that dies right after still knows it ran.
    let mark = Mark {
        to: to.to_owned(),
        was_running,
        live,
    };
    write_mark(&layout, &mark).map_err(|e| e.to_string())?;
    let init = found.init;
    let mut checkpoint = None;
    let opened = (|| {
        if live {
            checkpoint = Some(live::dump(runtime, name, found.clone(), pre_dumps)?);
        } else if init.is_some() {
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
            // Nothing left here: forget the move and put the container back as it was (a
            // failed dump has thawed it; one that succeeded is restored from its dump).
            clear_mark(&layout);
            if checkpoint.is_some() {
                live::put_back(runtime, name, &lock).log(name);
            } else {
                live::forget(runtime, name);
                drop(lock);
                if was_running {
                    let _ = runtime.start(name);
                }
            }
            return Err(e);
        }
    };
    let (checkpoint, outgoing) = checkpoint.unzip();
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
        checkpoint,
    };
    let exporting = Exporting {
        _lock: lock,
        file,
        size,
        pos: 0,
        digest: Digest::default(),
        checkpoint: outgoing,
    };
    Ok((answer, exporting))
}

impl Exporting {
    /// The next run with data, compressed; `(None, Some(checksum))` after the last one.
    pub(super) fn read(&mut self, raw: bool) -> Result<(Option<Chunk>, Option<String>), String> {
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
            let chunk = super::chunk::encode(start, &buf, raw)?;
            return Ok((Some(chunk), None));
        }
        self.pos = self.size;
        Ok((None, Some(self.digest.hex())))
    }
}

impl Exporting {
    /// The next chunk of a live move's dump (after the image's).
    pub(super) fn read_checkpoint(
        &mut self,
        raw: bool,
    ) -> Result<(Option<Chunk>, Option<String>), String> {
        match &mut self.checkpoint {
            Some(outgoing) => outgoing.read(raw),
            None => Err("this export is not a live move: it has no checkpoint".to_owned()),
        }
    }
}

/// The target runs the container: destroy the copy here (its mark and dump go with it).
pub(super) fn finish(runtime: &Runtime, name: &str) -> Result<bool, String> {
    let destroyed = runtime.destroy(name).map_err(|e| e.to_string());
    live::forget(runtime, name);
    destroyed
}

/// How an abort left the container, for the orchestrator's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Aborted {
    /// No move was under way.
    Nothing,
    /// Put back as it was: started again (cold), or restored from its dump (live).
    Back,
    /// A live move's dump could not be restored (why): started afresh.
    Afresh(String),
}

/// The move failed: forget it and start the container again if the move stopped it.
pub(super) fn abort(runtime: &Runtime, name: &str) -> Result<Aborted, String> {
    validate_name(name).map_err(|e| e.to_string())?;
    let layout = runtime.store.layout(name);
    let Some(mark) = read_mark(&layout) else {
        return Ok(Aborted::Nothing);
    };
    if mark.live {
        let lock = runtime.store.lock(name).map_err(|e| e.to_string())?;
        let running = runtime
            .repair(name, &lock)
            .map_err(|e| e.to_string())?
            .is_some_and(|f| f.init.is_some());
        let put = match running {
            true => live::PutBack::Restored,
            false => live::put_back(runtime, name, &lock),
        };
        put.log(name);
        clear_mark(&layout);
        return match put {
            live::PutBack::Restored => Ok(Aborted::Back),
            live::PutBack::Afresh(why) => Ok(Aborted::Afresh(why)),
            live::PutBack::Stopped(why) => Err(why),
        };
    }
    clear_mark(&layout);
    live::forget(runtime, name);
    if mark.was_running {
        runtime.start(name).map_err(|e| e.to_string())?;
    }
    Ok(Aborted::Back)
}
