//! Container uid ranges as the node's hello reports them (its pool, the host ids it keeps clear
//! of, who holds which range), the slot a container's name prefers, and the check a live move
//! needs: a restored tree keeps the user namespace it was dumped with, so the target must be able
//! to give the container the very range it held on the source. The node allocates
//! (`node-runtime/src/container/uid_ranges.rs`); the plan asks [`UidRanges::why_not_free`]
//! through `live::why_not_live`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ids in each container's range: container ids 0..=65535.
pub const RANGE_SIZE: u32 = 65536;

/// The slot (`0..capacity`) of a pool that a container named `name` tries first: FNV-1a of the
/// name, so the same name prefers the same range on every node with the same pool, and two
/// names rarely prefer the same one. `capacity` is at least 1.
pub fn preferred_slot(name: &str, capacity: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(capacity.max(1))) as u32
}

/// Host ids `start..start + len` that no range may overlap (ordered by start, then length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdSpan {
    /// First id.
    pub start: u64,
    /// How many ids.
    pub len: u64,
}

impl IdSpan {
    /// Whether the range at `base` overlaps this span.
    pub fn overlaps(&self, base: u32) -> bool {
        let (b, e) = (u64::from(base), u64::from(base) + u64::from(RANGE_SIZE));
        self.start < e && b < self.start.saturating_add(self.len)
    }
}

/// A node's uid ranges: what its hello says under `capacity.uid_ranges`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UidRanges {
    /// First host id of the pool's first range (`--uid-pool START-END`).
    pub pool_start: u32,
    /// One past the last host id a range may use.
    pub pool_end: u32,
    /// The host's own ids inside the pool (sub-id delegations, local accounts): no range
    /// overlapping them is given out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved: Vec<IdSpan>,
    /// Container -> first host id of the range it holds (every container of the node's, of
    /// any fleet).
    #[serde(default)]
    pub held: BTreeMap<String, u32>,
}

impl UidRanges {
    /// Why this node cannot give `name` the range at `base` (what a live move's restore needs),
    /// phrased to follow "uid range BASE "; `None` when it can. Ranges held by `name` itself
    /// do not count (the node replaces them).
    pub fn why_not_free(&self, name: &str, base: u32) -> Option<String> {
        let end = u64::from(base) + u64::from(RANGE_SIZE);
        let on_grid = base >= self.pool_start
            && end <= u64::from(self.pool_end)
            && (base - self.pool_start).is_multiple_of(RANGE_SIZE);
        if !on_grid {
            return Some(format!(
                "is not one of the ranges of the target's pool {}-{}",
                self.pool_start, self.pool_end
            ));
        }
        let span = |b: u32| IdSpan {
            start: u64::from(b),
            len: u64::from(RANGE_SIZE),
        };
        if let Some((holder, _)) = self
            .held
            .iter()
            .find(|(holder, b)| *holder != name && span(**b).overlaps(base))
        {
            return Some(format!("is held on the target by {holder}"));
        }
        self.reserved.iter().any(|s| s.overlaps(base)).then(|| {
            "overlaps the target's own ids (/etc/subuid, /etc/subgid or a local account)".to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_reaching_past_u64_does_not_overflow() {
        // A hostile node's hello (or a damaged /etc/subuid) may name any start and length.
        let span = IdSpan {
            start: u64::MAX - 1,
            len: 10,
        };
        assert!(!span.overlaps(0));
        assert!(!span.overlaps(u32::MAX - RANGE_SIZE));
    }

    #[test]
    fn a_name_prefers_the_same_slot_everywhere_and_names_spread() {
        assert_eq!(
            preferred_slot("web-1", 32766),
            preferred_slot("web-1", 32766)
        );
        assert!(preferred_slot("web-1", 7) < 7);
        assert_eq!(preferred_slot("anything", 1), 0);
        let slots: std::collections::BTreeSet<u32> = (0..100)
            .map(|i| preferred_slot(&format!("web-{i}"), 32766))
            .collect();
        assert!(slots.len() >= 99, "a hundred names, {} slots", slots.len());
    }

    #[test]
    fn a_range_is_free_for_a_restore_only_when_on_the_pool_and_nobody_has_it() {
        let start = 100_000;
        let r = UidRanges {
            pool_start: start,
            pool_end: start + 4 * RANGE_SIZE,
            reserved: vec![IdSpan {
                start: u64::from(start + 3 * RANGE_SIZE) + 7,
                len: 1,
            }],
            held: [("web-3".to_owned(), start + RANGE_SIZE)].into(),
        };
        assert_eq!(r.why_not_free("web-1", start), None);
        assert_eq!(r.why_not_free("web-3", start + RANGE_SIZE), None, "its own");
        let why = r.why_not_free("web-1", start + RANGE_SIZE).unwrap();
        assert_eq!(why, "is held on the target by web-3");
        let why = r.why_not_free("web-1", start + 3 * RANGE_SIZE).unwrap();
        assert!(why.contains("/etc/subuid"), "{why}");
        for outside in [start + 4 * RANGE_SIZE, start + 5, 65536] {
            let why = r.why_not_free("web-1", outside).unwrap();
            assert!(why.contains("pool 100000-362144"), "{outside}: {why}");
        }
    }
}
