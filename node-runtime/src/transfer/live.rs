//! A live move's checkpoint on both ends. The source dumps the running container with CRIU
//! (`checkpoint::checkpoint_for_move`: freeze, dump, the tree ends, a failure thaws it), packs
//! the image directory into one stream file (`checkpoint::stream`) and hands it out in zstd
//! chunks after the disk ([`Outgoing`]); it keeps the dump until the move ends, so an abort
//! restores the container where it was ([`put_back`]). The target writes the chunks to a file
//! apart from its containers ([`Incoming`]), and at the commit, after the disk's checksum and
//! the stream's match, unpacks it (plain names only, bounded) and has CRIU restore the tree
//! ([`restore_received`]), after unpacking the pre-dump rounds the dump names as its parents
//! (`super::pre_dump`).

use std::fs::File;
use std::io::BufWriter;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use fleet_protocol::transfer::{CHECKPOINT_MAX, CHUNK_MAX, CheckpointInfo, Chunk, ImageInfo};

use super::digest::Digest;
use crate::checkpoint::{self, CheckpointReport, RestoreReport, stream};
use crate::container::{Found, Runtime};
use crate::store::{ContainerLock, private_dir};

/// The stream file beside a move's image directory (`<root>/moving/<name>.stream`).
fn stream_path(runtime: &Runtime, name: &str) -> PathBuf {
    checkpoint::move_dir(runtime, name).with_extension("stream")
}

/// Where a live move keeps `name`'s dump and stream on this node.
pub(super) fn paths(runtime: &Runtime, name: &str) -> (PathBuf, PathBuf) {
    (
        checkpoint::move_dir(runtime, name),
        stream_path(runtime, name),
    )
}

/// Removes what a live move kept of `name` on this node (the dump, the stream); idempotent.
pub(super) fn forget(runtime: &Runtime, name: &str) {
    let _ = std::fs::remove_dir_all(checkpoint::move_dir(runtime, name));
    let _ = std::fs::remove_file(stream_path(runtime, name));
}

/// The source's stream of a dump, read chunk by chunk.
#[derive(Debug)]
pub(super) struct Outgoing {
    file: File,
    size: u64,
    pos: u64,
    digest: Digest,
}

/// Dumps the running container (the caller holds its lock), after the `pre_dumps` rounds made
/// of it (`super::pre_dump`), and packs the dump into a stream; returns what the target is told
/// and the stream. On a failed dump the container runs on.
pub(super) fn dump(
    runtime: &Runtime,
    name: &str,
    found: Found,
    pre_dumps: u32,
) -> Result<(CheckpointInfo, Outgoing), String> {
    let report: CheckpointReport = checkpoint::checkpoint_for_move(runtime, name, found, pre_dumps)
        .map_err(|e| e.to_string())?;
    let outgoing = Outgoing::pack(runtime, name, &report.dir)?;
    let info = CheckpointInfo {
        bytes: outgoing.size,
        frozen_ms: report.frozen.as_millis() as u64,
        criu_version: report.criu_version,
    };
    Ok((info, outgoing))
}

impl Outgoing {
    /// Packs the image directory `dir` (its files only: not the rounds inside it nor its
    /// `parent` link) into `name`'s stream file, replacing what was there.
    pub(super) fn pack(runtime: &Runtime, name: &str, dir: &Path) -> Result<Outgoing, String> {
        let path = stream_path(runtime, name);
        let pack = || -> std::io::Result<File> {
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)?;
            let mut out = BufWriter::new(&file);
            stream::pack(dir, &mut out)?;
            drop(out);
            Ok(file)
        };
        let file =
            pack().map_err(|e| format!("pack the checkpoint into {}: {e}", path.display()))?;
        let size = file
            .metadata()
            .map_err(|e| format!("stat {}: {e}", path.display()))?
            .len();
        Ok(Outgoing {
            file,
            size,
            pos: 0,
            digest: Digest::default(),
        })
    }

    /// Bytes of the stream.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// The next piece of the stream, compressed; `(None, Some(checksum))` after the last.
    pub(super) fn read(&mut self, raw: bool) -> Result<(Option<Chunk>, Option<String>), String> {
        if self.pos >= self.size {
            return Ok((None, Some(self.digest.hex())));
        }
        let len = (self.size - self.pos).min(u64::from(CHUNK_MAX)) as usize;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, self.pos)
            .map_err(|e| format!("read the checkpoint stream at {}: {e}", self.pos))?;
        self.digest.update(self.pos, &buf);
        let chunk = super::chunk::encode(self.pos, &buf, raw)?;
        self.pos += len as u64;
        Ok((Some(chunk), None))
    }
}

/// The target's file of a checkpoint stream under way.
#[derive(Debug)]
pub(super) struct Incoming {
    path: PathBuf,
    file: File,
    bounds: ImageInfo,
    next: u64,
    digest: Digest,
}

impl Incoming {
    /// A fresh file for a stream of `bytes` (bounded by [`CHECKPOINT_MAX`]): the final dump's
    /// (`<root>/incoming/<name>.checkpoint`), or with `round` a pre-dump round's (`.pre-N`).
    pub(super) fn begin(
        runtime: &Runtime,
        name: &str,
        round: Option<u32>,
        bytes: u64,
    ) -> Result<Incoming, String> {
        if bytes == 0 || bytes > CHECKPOINT_MAX {
            return Err(format!(
                "a checkpoint of {bytes} bytes: valid is 1 to {CHECKPOINT_MAX} bytes"
            ));
        }
        let dir = super::incoming_dir(runtime)?;
        let path = match round {
            None => dir.join(format!("{name}.checkpoint")),
            Some(n) => dir.join(format!("{name}.{}", checkpoint::round_name(n))),
        };
        let file = super::receive_file(&path)?;
        Ok(Incoming {
            path,
            file,
            bounds: ImageInfo {
                size: bytes,
                allocated: bytes,
                inodes: 0,
            },
            next: 0,
            digest: Digest::default(),
        })
    }

    /// Writes the next piece: exactly where the previous one ended, inside the announced size.
    pub(super) fn write(&mut self, chunk: &Chunk) -> Result<(), String> {
        if chunk.offset != self.next {
            return Err(format!(
                "a checkpoint chunk at {}: the next one starts at {}",
                chunk.offset, self.next
            ));
        }
        self.next += super::chunk::write_at(
            &self.file,
            &self.bounds,
            chunk,
            &mut self.digest,
            "checkpoint",
        )?;
        Ok(())
    }

    /// Makes the stream's files in `dir`, which must not exist yet (made 0700).
    fn unpack_into(&self, dir: &Path) -> Result<(), String> {
        let mut file =
            File::open(&self.path).map_err(|e| format!("open {}: {e}", self.path.display()))?;
        stream::unpack(&mut file, dir, self.bounds.size)
            .map(|_| ())
            .map_err(|e| format!("unpack the checkpoint into {}: {e}", dir.display()))
    }

    /// Checks that the whole stream arrived with the source's checksum.
    pub(super) fn verify(&self, digest: &str) -> Result<(), String> {
        if self.next != self.bounds.size {
            return Err(format!(
                "the checkpoint stream stopped at {} of its {} bytes",
                self.next, self.bounds.size
            ));
        }
        let got = self.digest.hex();
        if got != digest {
            return Err(format!(
                "the checkpoint's checksum is {got}, the source's is {digest}: not used"
            ));
        }
        Ok(())
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Unpacks a verified stream, and the pre-dump rounds before it, into the node's own
/// directory for `name` and restores the container from it (made and stopped; the caller holds
/// its lock). The dump is removed after.
pub(super) fn restore_received(
    runtime: &Runtime,
    name: &str,
    incoming: &Incoming,
    rounds: &[Incoming],
    lock: &ContainerLock,
) -> Result<RestoreReport, String> {
    let dir = checkpoint::move_dir(runtime, name);
    forget(runtime, name);
    if let Some(parent) = dir.parent() {
        private_dir(parent).map_err(|e| e.to_string())?;
    }
    let unpacked = incoming
        .unpack_into(&dir)
        .and_then(|()| link_rounds(&dir, rounds));
    let restored = unpacked.and_then(|()| restore_in(runtime, name, &dir, lock));
    forget(runtime, name);
    restored
}

/// Unpacks each round into `dir/pre-N` and links the chain as CRIU did on the source: the
/// dump's `parent` is the last round, each round's the one before. The links are ours, with
/// fixed targets inside `dir`; the source sends files only.
fn link_rounds(dir: &Path, rounds: &[Incoming]) -> Result<(), String> {
    let link = |at: PathBuf, to: String| {
        std::os::unix::fs::symlink(&to, &at)
            .map_err(|e| format!("link {} to {to}: {e}", at.display()))
    };
    for (i, round) in rounds.iter().enumerate() {
        let n = i as u32 + 1;
        let at = dir.join(checkpoint::round_name(n));
        round.unpack_into(&at)?;
        if n > 1 {
            link(
                at.join("parent"),
                format!("../{}", checkpoint::round_name(n - 1)),
            )?;
        }
    }
    match rounds.len() {
        0 => Ok(()),
        n => link(dir.join("parent"), checkpoint::round_name(n as u32)),
    }
}

fn restore_in(
    runtime: &Runtime,
    name: &str,
    dir: &Path,
    lock: &ContainerLock,
) -> Result<RestoreReport, String> {
    let found = runtime
        .repair(name, lock)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{name} vanished before its restore"))?;
    checkpoint::restore_owned(runtime, name, found, dir)
        .map_err(|e| keep_log(name, dir, e.to_string()))
}

/// A failed restore's message names CRIU's log in `dir` (`<root>/moving/NAME`), which the move
/// removes: the log is kept beside it (`NAME.restore.log`, replacing an older one) and named
/// instead.
fn keep_log(name: &str, dir: &Path, message: String) -> String {
    let log = dir.join(checkpoint::RESTORE_LOG);
    let kept = dir.with_file_name(format!("{name}.{}", checkpoint::RESTORE_LOG));
    match std::fs::rename(&log, &kept) {
        Ok(()) => message.replace(&log.display().to_string(), &kept.display().to_string()),
        Err(_) => message,
    }
}

/// How [`put_back`] left a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PutBack {
    /// Restored from the dump: its processes go on.
    Restored,
    /// The dump could not be restored (why) and the container was started afresh: its
    /// processes restarted.
    Afresh(String),
    /// Neither worked: it is stopped (why).
    Stopped(String),
}

impl PutBack {
    /// For the node's log, when the container was not restored.
    pub(super) fn log(&self, name: &str) {
        match self {
            PutBack::Restored => {}
            PutBack::Afresh(why) => {
                eprintln!("fleet-node: {name}: its restore failed ({why}); it was started afresh")
            }
            PutBack::Stopped(why) => eprintln!("fleet-node: {name}: {why}"),
        }
    }
}

/// A live move that did not happen: the container (stopped by its dump; the caller holds its
/// lock) is restored from the dump kept here, or, when that fails, started afresh, so that it
/// runs either way; says which.
pub(super) fn put_back(runtime: &Runtime, name: &str, lock: &ContainerLock) -> PutBack {
    let dir = checkpoint::move_dir(runtime, name);
    let failed = if dir.join(checkpoint::RECORD).is_file() {
        restore_in(runtime, name, &dir, lock).err()
    } else {
        Some("no dump was kept".to_owned())
    };
    forget(runtime, name);
    match failed {
        None => PutBack::Restored,
        Some(why) => match runtime.start_locked(name, lock) {
            Ok(_) => PutBack::Afresh(why),
            Err(e) => PutBack::Stopped(format!(
                "its restore failed ({why}), and starting it afresh failed too: {e}"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_restores_log_is_kept_out_of_the_dump_it_names() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("moving/web");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("restore.log"),
            "Error (criu/cr-restore.c:1): boom\n",
        )
        .unwrap();
        let named = |log: &Path| format!("criu restore failed (full log: {})", log.display());
        let kept = keep_log("web", &dir, named(&dir.join("restore.log")));
        let log = root.path().join("moving/web.restore.log");
        assert_eq!(kept, named(&log));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(std::fs::read_to_string(&log).unwrap().contains("boom"));
        // Without a log, the message stays as it was.
        assert_eq!(keep_log("web", &dir, "other".into()), "other");
    }
}
