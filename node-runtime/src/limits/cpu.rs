//! CPU weight (OpenVZ cpuunits) and CPU cap (cpulimit, percent of one CPU).
//!
//! v1: `cpu.shares` (2..=262144, default 1024), `cpu.cfs_quota_us` / `cpu.cfs_period_us`.
//! v2: `cpu.weight` (1..=10000, default 100), `cpu.max` (`quota period` or `max period`).
//!
//! The cpuunits mapping is linear and keeps OpenVZ's default on the kernel's default, so ratios
//! between containers hold (a container with 2000 units gets twice the CPU of one with 1000
//! under contention): shares = units × 1024 / 1000, weight = units / 10, each rounded and clamped
//! to the kernel's range. docs/limits.md has the table and where the clamping bites.

use std::path::Path;

use fleet_protocol::Resources;

use super::file;
use super::{CgroupVersion, Ctx, LimitError, Plan};

/// Smallest OpenVZ cpuunits value.
pub const UNITS_MIN: u32 = 8;
/// Largest OpenVZ cpuunits value.
pub const UNITS_MAX: u32 = 500_000;
/// OpenVZ's default cpuunits, mapped onto the kernel's default weight.
pub const UNITS_DEFAULT: u32 = 1000;
/// CFS period used for `cpu.limit` (100 ms, the kernel's default).
pub const PERIOD_US: u64 = 100_000;

/// A weight file's range, and the value it holds when nobody wrote one.
struct Scale {
    min: u64,
    max: u64,
    default: u64,
}

/// v1 `cpu.shares`.
const SHARES: Scale = Scale {
    min: 2,
    max: 262_144,
    default: 1024,
};
/// v2 `cpu.weight`.
const WEIGHT: Scale = Scale {
    min: 1,
    max: 10_000,
    default: 100,
};

/// cpuunits to v1 `cpu.shares`.
pub fn units_to_shares(units: u32) -> u64 {
    ((u64::from(units) * 1024 + 500) / 1000).clamp(SHARES.min, SHARES.max)
}

/// v1 `cpu.shares` back to cpuunits (exact inverse of [`units_to_shares`] below the clamp).
pub fn shares_to_units(shares: u64) -> u32 {
    ((shares * 1000 + 512) / 1024).min(u64::from(u32::MAX)) as u32
}

/// cpuunits to v2 `cpu.weight`.
pub fn units_to_weight(units: u32) -> u64 {
    ((u64::from(units) + 5) / 10).clamp(WEIGHT.min, WEIGHT.max)
}

/// v2 `cpu.weight` back to cpuunits.
pub fn weight_to_units(weight: u64) -> u32 {
    (weight * 10).min(u64::from(u32::MAX)) as u32
}

/// The cpuunits value a kernel of `version` reads back after `units` was written.
pub fn units_round_trip(units: u32, version: CgroupVersion) -> u32 {
    match version {
        CgroupVersion::V1 => shares_to_units(units_to_shares(units)),
        CgroupVersion::V2 => weight_to_units(units_to_weight(units)),
    }
}

/// Online CPUs of the host, for the upper bound of `cpu.limit`.
pub fn host_cpu_count() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

pub(crate) fn plan(ctx: &Ctx, res: &Resources, plan: &mut Plan) -> Result<(), LimitError> {
    if let Some(units) = res.cpu_units
        && !(UNITS_MIN..=UNITS_MAX).contains(&units)
    {
        return Err(LimitError::invalid(
            "cpu.units",
            units,
            format!("valid cpuunits are {UNITS_MIN}..={UNITS_MAX} (default {UNITS_DEFAULT})"),
        ));
    }
    let max_percent = 100 * host_cpu_count();
    if let Some(limit) = res.cpu_limit
        && !(1..=max_percent).contains(&limit)
    {
        return Err(LimitError::invalid(
            "cpu.limit",
            format!("{limit}%"),
            format!(
                "valid is 1%..={max_percent}% (percent of one CPU; this host has {} CPUs)",
                max_percent / 100
            ),
        ));
    }
    let Some(dir) = ctx.dir_for(&[
        ("cpu.units", res.cpu_units.is_some()),
        ("cpu.limit", res.cpu_limit.is_some()),
    ])?
    else {
        return Ok(());
    };
    match ctx.version {
        CgroupVersion::V1 => {
            let shares = res.cpu_units.map_or(SHARES.default, units_to_shares);
            plan.replace(dir.join("cpu.shares"), shares.to_string())?;
            // The quota is written last so that it is always measured against our period.
            plan.replace(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
            let value = res.cpu_limit.map_or("-1".to_string(), |p| {
                (u64::from(p) * PERIOD_US / 100).to_string()
            });
            plan.replace(dir.join("cpu.cfs_quota_us"), value)?;
        }
        CgroupVersion::V2 => {
            let weight = res.cpu_units.map_or(WEIGHT.default, units_to_weight);
            plan.replace(dir.join("cpu.weight"), weight.to_string())?;
            let quota = res.cpu_limit.map_or("max".to_string(), |p| {
                (u64::from(p) * PERIOD_US / 100).to_string()
            });
            plan.replace(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))?;
        }
    }
    Ok(())
}

/// The cpuunits and the cap (`cpu_units`, `cpu_limit`) the kernel enforces in `dir`.
pub(crate) fn read(
    version: CgroupVersion,
    dir: &Path,
) -> Result<(Option<u32>, Option<u32>), LimitError> {
    Ok(match version {
        CgroupVersion::V1 => {
            let shares = file::read_u64(&dir.join("cpu.shares"))?;
            let quota = file::read_i64(&dir.join("cpu.cfs_quota_us"))?;
            let period = file::read_u64(&dir.join("cpu.cfs_period_us"))?;
            let limit = (quota > 0 && period > 0).then(|| percent(quota as u64, period));
            (
                (shares != SHARES.default).then(|| shares_to_units(shares)),
                limit,
            )
        }
        CgroupVersion::V2 => {
            let weight = file::read_u64(&dir.join("cpu.weight"))?;
            let path = dir.join("cpu.max");
            let text = file::read(&path)?;
            let mut parts = text.split_whitespace();
            let quota = parts.next().unwrap_or("max");
            let period: u64 = parts
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(PERIOD_US);
            let limit = match quota {
                "max" => None,
                q => Some(percent(
                    q.parse().map_err(|_| LimitError::Parse {
                        path: path.clone(),
                        content: text.clone(),
                        expected: "`max PERIOD` or `QUOTA PERIOD`".into(),
                    })?,
                    period,
                )),
            };
            (
                (weight != WEIGHT.default).then(|| weight_to_units(weight)),
                limit,
            )
        }
    })
}

fn percent(quota: u64, period: u64) -> u32 {
    ((quota * 100 + period / 2) / period) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_units_map_to_kernel_defaults() {
        assert_eq!(units_to_shares(UNITS_DEFAULT), SHARES.default);
        assert_eq!(units_to_weight(UNITS_DEFAULT), WEIGHT.default);
    }

    #[test]
    fn mapping_keeps_ratios_and_clamps_at_the_ends() {
        for (units, shares, weight) in [
            (8, 8, 1),
            (250, 256, 25),
            (2000, 2048, 200),
            (100_000, 102_400, 10_000),
            (500_000, 262_144, 10_000),
        ] {
            assert_eq!(units_to_shares(units), shares, "shares of {units}");
            assert_eq!(units_to_weight(units), weight, "weight of {units}");
        }
    }

    #[test]
    fn shares_round_trip_exactly_below_the_clamp() {
        for units in (UNITS_MIN..=256_000).step_by(997) {
            assert_eq!(shares_to_units(units_to_shares(units)), units);
        }
    }

    #[test]
    fn v2_round_trip_is_to_the_nearest_ten() {
        assert_eq!(units_round_trip(1234, CgroupVersion::V2), 1230);
        assert_eq!(units_round_trip(8, CgroupVersion::V2), 10);
    }
}
