//! A move's chunk on the wire: a frame is a message's JSON and, when the message carries a
//! chunk with raw bytes, a NUL and those bytes after it, so the image and checkpoint bytes travel
//! as they are instead of base64 inside the JSON (`transfer::Chunk::raw`). Both sides frame
//! every message through here.

use serde::Serialize;

use crate::message::{Envelope, Request, Response};
use crate::transfer::Chunk;

/// Separates a frame's JSON from the raw bytes of its chunk after it: JSON text never holds a
/// NUL byte, so the first one ends it.
const RAW_SEPARATOR: u8 = 0;

/// A message that may carry a chunk (whose raw bytes travel after the JSON).
pub trait CarriesChunk {
    /// The chunk, if the message holds one.
    fn chunk_mut(&mut self) -> Option<&mut Chunk>;
}

/// The frame for `message`: its JSON, then, when it carries a chunk with raw bytes, a NUL and
/// those bytes (taken out of the message, not copied into the JSON).
pub fn frame_with_raw<T: Serialize + CarriesChunk>(
    mut message: Envelope<T>,
) -> serde_json::Result<Vec<u8>> {
    let raw = message.body.chunk_mut().and_then(|c| c.raw.take());
    let mut frame = serde_json::to_vec(&message)?;
    if let Some(raw) = raw {
        frame.reserve(raw.len() + 1);
        frame.push(RAW_SEPARATOR);
        frame.extend_from_slice(&raw);
    }
    Ok(frame)
}

/// Reads a frame [`frame_with_raw`] wrote: the message, with the raw bytes after the JSON put
/// back into its chunk. Raw bytes after a message without a chunk are refused.
pub fn parse_frame<T: serde::de::DeserializeOwned + CarriesChunk>(
    frame: &[u8],
) -> serde_json::Result<Envelope<T>> {
    let (json, raw) = match frame.iter().position(|&b| b == RAW_SEPARATOR) {
        Some(at) => (&frame[..at], Some(&frame[at + 1..])),
        None => (frame, None),
    };
    let mut message: Envelope<T> = serde_json::from_slice(json)?;
    if let Some(raw) = raw {
        match message.body.chunk_mut() {
            Some(chunk) => chunk.raw = Some(raw.to_vec()),
            None => {
                return Err(serde::de::Error::custom(
                    "raw bytes after a message that carries no chunk",
                ));
            }
        }
    }
    Ok(message)
}

impl CarriesChunk for Request {
    fn chunk_mut(&mut self) -> Option<&mut Chunk> {
        match self {
            Request::ImportChunk { chunk, .. } | Request::ImportCheckpoint { chunk, .. } => {
                Some(chunk)
            }
            _ => None,
        }
    }
}

impl CarriesChunk for Response {
    fn chunk_mut(&mut self) -> Option<&mut Chunk> {
        match self {
            Response::ExportData {
                chunk: Some(chunk), ..
            } => Some(chunk),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::DIGEST_BLOCK;

    #[test]
    fn a_chunk_travels_raw_after_the_json_and_comes_back_whole() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let chunk = Chunk {
            offset: DIGEST_BLOCK,
            len: 70_000,
            data: String::new(),
            stored: true,
            raw: Some(bytes.clone()),
        };
        let request = Envelope {
            id: 7,
            body: Request::ImportChunk {
                name: "web".into(),
                chunk,
            },
        };
        let frame = frame_with_raw(request.clone()).unwrap();
        assert_eq!(
            frame.len(),
            frame.iter().position(|&b| b == 0).unwrap() + 1 + 70_000
        );
        let back: Envelope<Request> = parse_frame(&frame).unwrap();
        assert_eq!(
            back, request,
            "the same message, the bytes in the chunk again"
        );
        // A frame without raw bytes is plain JSON, as before.
        let ping = Envelope {
            id: 1,
            body: Request::Ping,
        };
        assert_eq!(
            frame_with_raw(ping.clone()).unwrap(),
            serde_json::to_vec(&ping).unwrap()
        );
        // Raw bytes where no chunk can hold them are refused.
        let mut bad = serde_json::to_vec(&Envelope {
            id: 2,
            body: Response::Pong,
        })
        .unwrap();
        bad.extend([0, 1, 2]);
        assert!(parse_frame::<Response>(&bad).is_err());
    }
}
