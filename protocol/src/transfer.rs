//! The vocabulary of a move between hosts: what the source node says about the disk image it
//! sends, the chunks the image travels in, and the bounds both sides hold each other to.
//!
//! The bytes go through the orchestrator: it reads chunks from the source's session
//! (`Request::ExportRead`) and writes them into the target's (`Request::ImportChunk`), so the
//! hosts need no trust or credentials for each other (docs/decisions.md). A chunk carries the
//! zstd-compressed bytes of one run of the image's allocated extents, base64-encoded for the JSON
//! frame; the orchestrator never decodes it. The checksum ([`DIGEST`]) is taken over the image's
//! logical content, so holes and written zeros count alike and the target can verify what it
//! received before it uses any of it.

use serde::{Deserialize, Serialize};

/// Logical bytes (before compression) one chunk holds at most. A receiver refuses more.
pub const CHUNK_MAX: u32 = 4 << 20;

/// The granule of the checksum: the image is cut into blocks of this size and only blocks that
/// are not all zeros are hashed, with their index, so a hole and a run of written zeros hash the
/// same. Chunks start on a multiple of it.
pub const DIGEST_BLOCK: u64 = 64 << 10;

/// Name of the checksum: sha256 over `(block index as u64 LE, block bytes)` for every
/// [`DIGEST_BLOCK`] of the image that is not all zeros, in order.
pub const DIGEST: &str = "sha256-nonzero-64k";

/// The container's disk image as the source describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Logical size of the image file in bytes (the container's disk space).
    pub size: u64,
    /// Bytes the file has allocated (what will travel at most, before compression).
    pub allocated: u64,
    /// Inode count the file system was made with.
    pub inodes: u64,
}

/// One run of the image: `len` logical bytes from `offset`, zstd-compressed (or stored as they
/// are where zstd does not make them smaller), carried raw after the frame's JSON
/// ([`frame_with_raw`]) or, to a node that does not read that, base64 in `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Where the bytes go in the image.
    pub offset: u64,
    /// Logical length (after decompression); at most [`CHUNK_MAX`].
    pub len: u32,
    /// The zstd frame, base64 (standard alphabet, padded); empty when the bytes are `raw`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// The bytes are the logical bytes themselves, not a zstd frame (they did not compress).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stored: bool,
    /// The bytes, when they travel raw after the frame's JSON; never in the JSON itself.
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
}

impl Chunk {
    /// The bytes that cross the wire for it (raw, or base64).
    pub fn wire_len(&self) -> u64 {
        self.raw.as_ref().map_or(self.data.len(), Vec::len) as u64
    }
}

/// What the source answers to `ExportBegin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// The container's stored spec.
    pub spec: crate::ContainerSpec,
    /// Its disk image.
    pub image: ImageInfo,
    /// The side its writable layer's owners are on: 0 for host ids, else the first id of the
    /// source's range for it (the target shifts them to its own range at the first start).
    pub layer_ids: u32,
    /// Whether the container was running before the export stopped it.
    pub was_running: bool,
    /// A live move's checkpoint, dumped instead of a stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointInfo>,
}

/// What the source of a live move dumped: the checkpoint's image directory, sent as one stream
/// in [`Chunk`]s after the disk (offsets within the stream, the same bounds and checksum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Bytes of the stream.
    pub bytes: u64,
    /// Milliseconds the container was frozen for the dump.
    pub frozen_ms: u64,
    /// The CRIU that dumped it.
    pub criu_version: String,
}

/// One pre-dump round of a live move as the source made it: CRIU copied the running
/// container's memory (the first round all of it, each later one the pages dirtied since the
/// round before) into an image directory, sent as a stream like the final dump's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreDumpRound {
    /// The round, counted from 1.
    pub round: u32,
    /// Memory pages it wrote.
    pub pages: u64,
    /// Bytes of its stream.
    pub bytes: u64,
    /// Milliseconds CRIU took (the container runs on, bar a brief freeze to collect pages).
    pub took_ms: u64,
}

/// The most pre-dump rounds a target takes for one move.
pub const PRE_DUMP_ROUNDS_MAX: u32 = 8;

/// The largest checkpoint stream a node accepts.
pub const CHECKPOINT_MAX: u64 = 256 << 30;

/// Why a chunk or an image description is refused; shared so both sides apply one rule.
pub fn check_chunk(image: &ImageInfo, offset: u64, len: u32) -> Result<(), String> {
    if len == 0 || len > CHUNK_MAX {
        return Err(format!(
            "a chunk of {len} bytes: valid is 1 to {CHUNK_MAX} bytes"
        ));
    }
    if !offset.is_multiple_of(DIGEST_BLOCK) {
        return Err(format!(
            "a chunk at offset {offset}: chunks start on a multiple of {DIGEST_BLOCK}"
        ));
    }
    match offset.checked_add(u64::from(len)) {
        Some(end) if end <= image.size => Ok(()),
        _ => Err(format!(
            "a chunk of {len} bytes at {offset} ends past the image's {} bytes",
            image.size
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_bounded_by_the_image_and_the_chunk_size() {
        let image = ImageInfo {
            size: 1 << 30,
            allocated: 0,
            inodes: 0,
        };
        assert!(check_chunk(&image, 0, CHUNK_MAX).is_ok());
        assert!(check_chunk(&image, DIGEST_BLOCK, 1).is_ok());
        assert!(check_chunk(&image, 0, 0).is_err());
        assert!(check_chunk(&image, 0, CHUNK_MAX + 1).is_err());
        assert!(check_chunk(&image, 1, 1).is_err(), "unaligned");
        assert!(check_chunk(&image, (1 << 30) - DIGEST_BLOCK, 2 << 16).is_err());
        assert!(check_chunk(&image, u64::MAX - DIGEST_BLOCK + 1, 1).is_err());
    }
}
