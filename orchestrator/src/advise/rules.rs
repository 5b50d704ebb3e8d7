//! The sizing rules: what a container's memory counters say about its limit. A limit that was
//! hit (failcnt above zero), or under which the container stalled on memory for a tenth of the
//! last minute (PSI, where the host has it), is raised by half, and at least to a quarter above
//! the peak; a limit whose peak never reached half of it, with no memory pressure to speak of, is
//! lowered to half again above the peak. Both round up to a whole step (16 MiB below 1 GiB, 64
//! MiB above), so the edit reads like a person's.

use fleet_protocol::units::format_size;

/// One container's memory figures as its node reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemoryFigures {
    /// The limit in force (bytes).
    pub limit: u64,
    /// In use now.
    pub held: u64,
    /// Most used since the container started, when the kernel keeps it.
    pub maxheld: Option<u64>,
    /// Times the limit was hit since the container started.
    pub failcnt: Option<u64>,
    /// Share of the last minute some task stalled on memory, hundredths of a percent (PSI
    /// `some avg60`, cgroup v2 hosts only).
    pub pressure: Option<u32>,
}

/// Memory pressure (hundredths of a percent of the last minute) from which a limit is raised
/// even if it was never hit: reclaim near the limit (or `memory_high`) stalls the container.
pub const PRESSURE_RAISE: u32 = 1000;

/// Memory pressure above which a limit is never lowered.
pub const PRESSURE_KEEP: u32 = 100;

/// Which way a limit should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The limit was hit.
    Raise,
    /// The limit is more than twice what was ever used.
    Lower,
}

/// What the rules say about one container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Raise or lower.
    pub direction: Direction,
    /// The limit it should have (bytes).
    pub memory: u64,
    /// The figures that justify it, in words.
    pub why: String,
}

/// The smallest memory limit the spec accepts.
const MEMORY_MIN: u64 = 4 << 20;

/// `bytes` rounded up to a whole step.
pub fn round_up(bytes: u64) -> u64 {
    let step: u64 = if bytes < (1 << 30) {
        16 << 20
    } else {
        64 << 20
    };
    bytes.div_ceil(step).saturating_mul(step).max(MEMORY_MIN)
}

/// The verdict on one container's memory, or `None` when its limit fits.
pub fn memory(f: &MemoryFigures) -> Option<Verdict> {
    let peak = f.maxheld.unwrap_or(f.held).max(f.held);
    let percent = |v: u64| v.saturating_mul(100) / f.limit.max(1);
    let pressure = f.pressure.unwrap_or(0);
    let stalled = |p: u32| {
        format!(
            "memory pressure {}.{:02}% of the last minute",
            p / 100,
            p % 100
        )
    };
    let raise = round_up((f.limit + f.limit / 2).max(peak + peak / 4));
    match f.failcnt {
        Some(hits) if hits > 0 => Some(Verdict {
            direction: Direction::Raise,
            memory: raise,
            why: format!(
                "hit its memory limit {hits} time{} (failcnt {hits}; maxheld {} of limit {}{})",
                if hits == 1 { "" } else { "s" },
                format_size(peak),
                format_size(f.limit),
                f.pressure
                    .map(|p| format!("; {}", stalled(p)))
                    .unwrap_or_default()
            ),
        }),
        _ if pressure >= PRESSURE_RAISE => Some(Verdict {
            direction: Direction::Raise,
            memory: raise,
            why: format!(
                "stalled on memory under its limit ({}, PSI some avg60; maxheld {} of limit {})",
                stalled(pressure),
                format_size(peak),
                format_size(f.limit)
            ),
        }),
        _ if f.maxheld.is_some() && peak < f.limit / 2 && pressure <= PRESSURE_KEEP => {
            let want = round_up(peak + peak / 2);
            (want < f.limit).then(|| Verdict {
                direction: Direction::Lower,
                memory: want,
                why: format!(
                    "never used half its memory (maxheld {} = {}% of limit {}, failcnt 0)",
                    format_size(peak),
                    percent(peak),
                    format_size(f.limit)
                ),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: u64 = 1 << 20;

    fn figures(limit: u64, maxheld: u64, failcnt: u64) -> MemoryFigures {
        MemoryFigures {
            limit,
            held: maxheld / 2,
            maxheld: Some(maxheld),
            failcnt: Some(failcnt),
            pressure: None,
        }
    }

    #[test]
    fn memory_pressure_raises_a_limit_never_hit_and_keeps_one_from_being_cut() {
        let stalled = MemoryFigures {
            pressure: Some(2550),
            ..figures(256 * MI, 250 * MI, 0)
        };
        let v = memory(&stalled).expect("raised");
        assert_eq!(v.direction, Direction::Raise);
        assert_eq!(v.memory, 384 * MI);
        assert!(
            v.why.contains("memory pressure 25.50% of the last minute"),
            "{}",
            v.why
        );
        // Half used but under pressure: not lowered.
        let busy = MemoryFigures {
            pressure: Some(500),
            ..figures(1024 * MI, 100 * MI, 0)
        };
        assert_eq!(memory(&busy), None);
        // A hit names the pressure beside the failcnt.
        let hit = MemoryFigures {
            pressure: Some(7),
            ..figures(64 * MI, 64 * MI, 3)
        };
        assert!(
            memory(&hit)
                .unwrap()
                .why
                .contains("; memory pressure 0.07%")
        );
    }

    #[test]
    fn a_limit_that_was_hit_is_raised_by_half_at_least() {
        let v = memory(&figures(32 * MI, 32 * MI, 7)).unwrap();
        assert_eq!(v.direction, Direction::Raise);
        assert_eq!(v.memory, 48 * MI);
        assert!(
            v.why.contains("failcnt 7") && v.why.contains("32Mi"),
            "{}",
            v.why
        );
    }

    #[test]
    fn a_limit_never_half_used_is_lowered_above_the_peak() {
        let v = memory(&figures(1024 * MI, 100 * MI, 0)).unwrap();
        assert_eq!(v.direction, Direction::Lower);
        assert_eq!(v.memory, 160 * MI, "150Mi rounded up to 16Mi steps");
        assert!(v.why.contains("9%"), "{}", v.why);
    }

    #[test]
    fn a_limit_that_fits_is_left() {
        assert_eq!(memory(&figures(256 * MI, 200 * MI, 0)), None);
        // Without a peak the kernel keeps, nothing says the limit is too large.
        let mut f = figures(1024 * MI, 1, 0);
        f.maxheld = None;
        assert_eq!(memory(&f), None);
    }

    #[test]
    fn steps_grow_with_the_size() {
        assert_eq!(round_up(MI), 16 * MI);
        assert_eq!(round_up(1025 * MI), 1088 * MI);
    }
}
