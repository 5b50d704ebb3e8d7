//! The checksum of an image's logical content (`fleet_protocol::transfer::DIGEST`): sha256 over
//! `(block index, block)` for each 64 KiB block that is not all zeros. Holes and written zeros
//! hash alike, so the source (which reads only allocated runs) and the target (which writes only
//! what it received) agree without either hashing the holes.

use fleet_protocol::transfer::DIGEST_BLOCK;
use sha2::{Digest as _, Sha256};

/// A running checksum, fed in offset order.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    hasher: Sha256,
}

impl Digest {
    /// Adds `data`, which starts at `offset` (a multiple of the block size) of the image.
    pub fn update(&mut self, offset: u64, data: &[u8]) {
        debug_assert_eq!(offset % DIGEST_BLOCK, 0);
        for (i, block) in data.chunks(DIGEST_BLOCK as usize).enumerate() {
            if is_zero(block) {
                continue;
            }
            let index = offset / DIGEST_BLOCK + i as u64;
            self.hasher.update(index.to_le_bytes());
            self.hasher.update(block);
        }
    }

    /// The checksum so far, hex.
    pub fn hex(&self) -> String {
        self.hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Whether every byte of `block` is zero (eight at a time).
pub fn is_zero(block: &[u8]) -> bool {
    let (words, rest) = block.split_at(block.len() - block.len() % 8);
    words
        .chunks_exact(8)
        .all(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")) == 0)
        && rest.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_and_written_zeros_hash_alike_and_any_change_shows() {
        let b = DIGEST_BLOCK as usize;
        let mut image = vec![0u8; 4 * b];
        image[b + 7] = 1;
        image[3 * b] = 9;
        let mut whole = Digest::default();
        whole.update(0, &image);
        // Only the runs with data, as the source sends them.
        let mut runs = Digest::default();
        runs.update(DIGEST_BLOCK, &image[b..2 * b]);
        runs.update(3 * DIGEST_BLOCK, &image[3 * b..]);
        assert_eq!(whole.hex(), runs.hex());
        let mut moved = image.clone();
        moved[b + 7] = 0;
        moved[b + 8] = 1;
        let mut other = Digest::default();
        other.update(0, &moved);
        assert_ne!(whole.hex(), other.hex());
        // The same bytes in another block are another image.
        let mut shifted = Digest::default();
        shifted.update(2 * DIGEST_BLOCK, &image[b..2 * b]);
        shifted.update(3 * DIGEST_BLOCK, &image[3 * b..]);
        assert_ne!(whole.hex(), shifted.hex());
        assert!(is_zero(&[0; 13]) && !is_zero(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    }
}
