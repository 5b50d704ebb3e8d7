//! OpenVZ's I/O priority (`IOPRIO`, `vzctl set --ioprio`, 0 to 7, default 4) as the proportional
//! I/O weight Fleet's spec uses (`io.weight`, cgroup v2's scale 1..=10000, default 100). The one
//! place this mapping lives: `fleet import openvz` and the spec's `io.priority` both use it.
//!
//! OpenVZ's kernel gave each priority a CFQ group weight on the old blkio scale (10..=1000,
//! default 500): 320, 365, 410, 460, 500, 550, 600, 640 (kernel/bc/io_prio.c). Divided by five
//! they land on the v2 scale with the default where both kernels keep it (priority 4 is weight
//! 100) and the same ratios between priorities (7 gets twice the share of 0):
//!
//! | ioprio | OpenVZ blkio.weight | io.weight |
//! |---|---|---|
//! | 0 | 320 | 64 |
//! | 1 | 365 | 73 |
//! | 2 | 410 | 82 |
//! | 3 | 460 | 92 |
//! | 4 | 500 | 100 |
//! | 5 | 550 | 110 |
//! | 6 | 600 | 120 |
//! | 7 | 640 | 128 |
//!
//! The node writes the weight where the host's scheduler honours one (BFQ's `io.bfq.weight` /
//! `blkio.bfq.weight`, iocost's `io.weight`; see docs/limits.md); the hello's `io_weight`
//! feature says whether it does.

/// OpenVZ's blkio weight for each priority, 0 to 7.
pub const OPENVZ_BLKIO_WEIGHT: [u16; 8] = [320, 365, 410, 460, 500, 550, 600, 640];

/// Highest priority.
pub const MAX: u8 = 7;

/// OpenVZ's default priority.
pub const DEFAULT: u8 = 4;

/// The `io.weight` of OpenVZ priority `prio`; `None` outside 0..=7.
pub fn weight(prio: u8) -> Option<u16> {
    OPENVZ_BLKIO_WEIGHT.get(usize::from(prio)).map(|w| w / 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_priority_is_the_default_weight_and_ratios_hold() {
        assert_eq!(weight(DEFAULT), Some(100));
        assert_eq!(weight(0), Some(64));
        assert_eq!(weight(MAX), Some(128));
        assert_eq!(weight(8), None);
        for p in 0..=MAX {
            let w = weight(p).unwrap();
            assert_eq!(
                u32::from(w) * 5,
                u32::from(OPENVZ_BLKIO_WEIGHT[usize::from(p)])
            );
        }
    }
}
