//! The node's record of which container holds which uid/gid range: `<root>/userns-ranges.json`,
//! a map from container name to the range's first host id. It is read and rewritten whole (temp
//! file, fsync, rename) under the node lock `<root>/userns.lock`, so two creates never pick the
//! same range and a crash leaves the old or the new record. A range is held from create (or from
//! the first start without `privileged`) until destroy; state.json keeps a copy of the base from
//! which a lost record can be rebuilt.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pool::{Pool, RANGE_SIZE, Span};
use crate::error::{Error, Result, io_err};

/// File name of the record under the node's root.
pub const FILE: &str = "userns-ranges.json";

/// Who holds which range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranges {
    /// Container name -> first host uid (and gid) of its range of 65536.
    pub ranges: BTreeMap<String, u32>,
}

impl Ranges {
    /// The record at `path`, `None` when there is none yet. A record that does not parse is an
    /// error: guessing which ranges are free could give one range to two containers.
    pub fn read(path: &Path) -> Result<Option<Ranges>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Error::RangesDamaged {
                        path: path.to_owned(),
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", path)(e)),
        }
    }

    /// Stores the record atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("ranges serialize");
        bytes.push(b'\n');
        crate::store::atomic_write(path, &bytes)
    }

    /// Everything no new range may overlap: the held ranges and the host's own ids, sorted by
    /// start.
    fn blocked(&self, reserved: &[Span]) -> Vec<Span> {
        let mut spans: Vec<Span> = self
            .ranges
            .values()
            .map(|&b| Span {
                start: u64::from(b),
                len: u64::from(RANGE_SIZE),
            })
            .chain(reserved.iter().copied())
            .collect();
        spans.sort();
        spans
    }

    /// The pool's ranges that overlap nothing held or reserved, lowest first.
    fn free<'a>(&self, pool: &'a Pool, reserved: &[Span]) -> impl Iterator<Item = u32> + 'a {
        let blocked = self.blocked(reserved);
        // Bases rise, so a blocked span that ends before one base ends before all later ones;
        // spans are sorted by start, so the first one not yet passed decides the overlap.
        // A span ending late may hide a later short one; `reach` keeps the furthest end seen.
        let mut next = 0;
        let mut reach = 0u64;
        (0..pool.capacity())
            .map(|i| pool.base(i))
            .filter(move |&base| {
                let end = u64::from(base) + u64::from(RANGE_SIZE);
                while next < blocked.len() && blocked[next].start < end {
                    reach = reach.max(blocked[next].start + blocked[next].len);
                    next += 1;
                }
                reach <= u64::from(base)
            })
    }

    /// The free range for a container named `name`: the one its name prefers
    /// ([`Pool::preferred`]) when free, else the next free one above it, wrapping to the
    /// pool's bottom; `None` when the pool is used up. Not the lowest free one: nodes that each
    /// hand out ranges from the bottom give their first containers the same range, and a live
    /// move between them cannot restore the tree (it keeps its user namespace), while two
    /// names rarely prefer the same range.
    pub fn pick(&self, pool: &Pool, reserved: &[Span], name: &str) -> Option<u32> {
        let preferred = pool.preferred(name);
        let mut lowest = None;
        for base in self.free(pool, reserved) {
            if base >= preferred {
                return Some(base);
            }
            lowest.get_or_insert(base);
        }
        lowest
    }

    /// Whether the range at `base` is one of the pool's that nothing holds or reserves.
    pub fn is_free(&self, pool: &Pool, reserved: &[Span], base: u32) -> bool {
        self.free(pool, reserved).any(|b| b == base)
    }

    /// How many more containers the pool can give a range to.
    pub fn free_count(&self, pool: &Pool, reserved: &[Span]) -> u32 {
        self.free(pool, reserved).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: u32) -> Pool {
        Pool {
            start: 100_000,
            end: 100_000 + n * RANGE_SIZE,
        }
    }

    /// A name starting with `prefix` whose preferred slot in `p` is `slot`.
    fn name_preferring(p: &Pool, slot: u32, prefix: &str) -> String {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|n| p.preferred(n) == p.base(slot))
            .unwrap()
    }

    #[test]
    fn a_name_gets_its_preferred_range_else_the_next_free_one_wrapping() {
        let p = pool(4);
        let mut r = Ranges::default();
        let first = name_preferring(&p, 2, "a");
        assert_eq!(r.pick(&p, &[], &first), Some(p.base(2)), "its own slot");
        let mut elsewhere = Ranges::default();
        elsewhere.ranges.insert("other".into(), p.base(0));
        assert_eq!(
            elsewhere.pick(&p, &[], &first),
            Some(p.base(2)),
            "the same on another node with the same pool"
        );
        r.ranges.insert(first.clone(), p.base(2));
        // Another name preferring the same slot probes onward, past a reserved one, and wraps.
        let second = name_preferring(&p, 2, "b");
        assert_eq!(r.pick(&p, &[], &second), Some(p.base(3)), "the next one up");
        let reserved = [Span {
            start: u64::from(p.base(3)) + 9,
            len: 1,
        }];
        assert_eq!(
            r.pick(&p, &reserved, &second),
            Some(p.base(0)),
            "past a reserved one, wrapping to the bottom"
        );
        r.ranges.insert("x".into(), p.base(0));
        assert_eq!(r.pick(&p, &reserved, &second), Some(p.base(1)));
        r.ranges.insert("y".into(), p.base(1));
        assert_eq!(r.pick(&p, &reserved, &second), None, "used up");
        assert_eq!(r.free_count(&p, &reserved), 0);
        r.ranges.remove(&first);
        assert_eq!(
            r.pick(&p, &reserved, &second),
            Some(p.base(2)),
            "freed at destroy"
        );
    }

    #[test]
    fn a_pick_is_never_a_held_range_and_a_full_pool_is_used_up() {
        let p = pool(3);
        let mut r = Ranges::default();
        for name in ["a", "b", "c"] {
            let base = r.pick(&p, &[], name).unwrap();
            assert!(!r.ranges.values().any(|&b| b == base), "{name}: {r:?}");
            r.ranges.insert(name.into(), base);
        }
        assert_eq!(r.pick(&p, &[], "d"), None, "a pool of three is used up");
    }

    #[test]
    fn ranges_clear_of_host_ids_and_of_ranges_from_another_pool() {
        let p = pool(6);
        let mut r = Ranges::default();
        // A range held from an earlier, unaligned pool covers parts of two of this pool's.
        r.ranges.insert("old".into(), 100_000 + RANGE_SIZE / 2);
        let reserved = [
            // a long delegation and, inside it, a local account: the long one still blocks.
            Span {
                start: 100_000 + 3 * u64::from(RANGE_SIZE),
                len: 2 * u64::from(RANGE_SIZE),
            },
            Span {
                start: 100_000 + 3 * u64::from(RANGE_SIZE) + 5,
                len: 1,
            },
        ];
        let free: Vec<u32> = r.free(&p, &reserved).collect();
        assert_eq!(free, [100_000 + 2 * RANGE_SIZE, 100_000 + 5 * RANGE_SIZE]);
        assert_eq!(r.free_count(&p, &reserved), 2);
    }

    #[test]
    fn a_damaged_record_is_an_error_not_an_empty_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert_eq!(Ranges::read(&path).unwrap(), None);
        std::fs::write(&path, b"{\"ranges\": {\"a\": 1").unwrap();
        let err = Ranges::read(&path).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        let mut r = Ranges::default();
        r.ranges.insert("a".into(), 100_000);
        r.write(&path).unwrap();
        assert_eq!(Ranges::read(&path).unwrap(), Some(r));
    }
}
