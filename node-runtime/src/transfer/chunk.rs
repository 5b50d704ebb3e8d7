//! One chunk on the wire, both ways: a run of bytes compressed with zstd where that makes it
//! smaller (else stored as it is), carried raw after the frame's JSON to an orchestrator that
//! asked for it (`raw`) or base64 inside it, and the checks a receiver makes before it uses any
//! of it (inside the bounds both sides share, no more bytes than zstd's bound for the largest
//! chunk, decompressed no further than the length announced). The image's chunks and a live
//! move's checkpoint chunks go through here alike.

use std::fs::File;
use std::os::unix::fs::FileExt;

use base64::Engine as _;
use fleet_protocol::transfer::{CHUNK_MAX, Chunk, ImageInfo, check_chunk};

use super::digest::Digest;

/// zstd level: 3 is zstd's default, a good trade of speed for size on file system images and
/// memory pages.
const LEVEL: i32 = 3;

/// The chunk for the logical bytes `data` at `offset`: raw bytes (stored when zstd does not
/// shrink them) or, for a peer that reads only that, base64 of the zstd frame.
pub(super) fn encode(offset: u64, data: &[u8], raw: bool) -> Result<Chunk, String> {
    let compressed = zstd::bulk::compress(data, LEVEL).map_err(|e| format!("compress: {e}"))?;
    let mut chunk = Chunk {
        offset,
        len: data.len() as u32,
        data: String::new(),
        stored: false,
        raw: None,
    };
    if !raw {
        chunk.data = base64::engine::general_purpose::STANDARD.encode(compressed);
    } else if compressed.len() < data.len() {
        chunk.raw = Some(compressed);
    } else {
        chunk.stored = true;
        chunk.raw = Some(data.to_vec());
    }
    Ok(chunk)
}

/// Decodes `chunk` (checked against `bounds`) and writes it at its offset into `file`, adding it
/// to `digest`: the image and a live move's checkpoint stream are received alike, only their
/// order rules differ. `what` names the file in the error. Returns the bytes written.
pub(super) fn write_at(
    file: &File,
    bounds: &ImageInfo,
    chunk: &Chunk,
    digest: &mut Digest,
    what: &str,
) -> Result<u64, String> {
    let data = decode(bounds, chunk)?;
    file.write_all_at(&data, chunk.offset)
        .map_err(|e| format!("write the {what} at {}: {e}", chunk.offset))?;
    digest.update(chunk.offset, &data);
    Ok(data.len() as u64)
}

/// The logical bytes of `chunk`, checked against `bounds`.
pub(super) fn decode(bounds: &ImageInfo, chunk: &Chunk) -> Result<Vec<u8>, String> {
    check_chunk(bounds, chunk.offset, chunk.len)?;
    let bound = zstd::zstd_safe::compress_bound(CHUNK_MAX as usize);
    let bytes = match &chunk.raw {
        Some(raw) => std::borrow::Cow::Borrowed(raw.as_slice()),
        None => {
            // base64 of at most zstd's bound for CHUNK_MAX bytes.
            if chunk.data.len() > 4 * (bound / 3 + 2) {
                return Err(format!(
                    "a chunk of {} encoded bytes: at most {} hold {CHUNK_MAX} bytes",
                    chunk.data.len(),
                    4 * (bound / 3 + 2)
                ));
            }
            std::borrow::Cow::Owned(
                base64::engine::general_purpose::STANDARD
                    .decode(&chunk.data)
                    .map_err(|e| format!("a chunk at {} is not base64: {e}", chunk.offset))?,
            )
        }
    };
    if bytes.len() > bound {
        return Err(format!(
            "a chunk of {} bytes: at most {bound} hold {CHUNK_MAX} bytes",
            bytes.len()
        ));
    }
    let data = if chunk.stored {
        bytes.into_owned()
    } else {
        zstd::bulk::decompress(&bytes, chunk.len as usize).map_err(|e| {
            format!(
                "a chunk at {} does not decompress to its {} bytes: {e}",
                chunk.offset, chunk.len
            )
        })?
    };
    if data.len() != chunk.len as usize {
        return Err(format!(
            "a chunk at {} holds {} bytes, not the {} it announced",
            chunk.offset,
            data.len(),
            chunk.len
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: ImageInfo = ImageInfo {
        size: 1 << 30,
        allocated: 1 << 30,
        inodes: 0,
    };

    #[test]
    fn chunks_come_back_as_they_went_raw_stored_or_base64() {
        let text = b"fleet moved this container\n".repeat(4000);
        // xorshift64: bytes zstd cannot shrink (a multiplicative pattern, tried first, it can).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        for data in [&text[..], &noise[..]] {
            for raw in [false, true] {
                let chunk = encode(0, data, raw).unwrap();
                assert_eq!(decode(&BOUNDS, &chunk).unwrap(), data);
                assert_eq!(chunk.raw.is_some(), raw);
            }
        }
        let text_chunk = encode(0, &text, true).unwrap();
        assert!(!text_chunk.stored && text_chunk.wire_len() < text.len() as u64 / 10);
        let noise_chunk = encode(0, &noise, true).unwrap();
        assert!(noise_chunk.stored, "what zstd cannot shrink goes as it is");
        assert_eq!(noise_chunk.wire_len(), noise.len() as u64);
    }

    #[test]
    fn a_chunk_that_lies_about_its_length_is_refused() {
        let mut chunk = encode(0, &[7u8; 1000], true).unwrap();
        chunk.len = 999;
        assert!(decode(&BOUNDS, &chunk).is_err());
        let mut stored = encode(0, &[1, 2, 3], true).unwrap();
        stored.stored = true;
        stored.raw = Some(vec![1, 2]);
        stored.len = 3;
        assert!(decode(&BOUNDS, &stored).is_err());
    }
}
