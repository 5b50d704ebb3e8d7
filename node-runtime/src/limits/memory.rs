//! Memory and swap limits (OpenVZ physpages and swappages).
//!
//! v1: `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` (memory + swap together, only
//! when the kernel accounts swap), with the kernel's rule that memory ≤ memory+swap at every
//! moment, so the order of the two writes depends on whether the limits grow or shrink.
//! v2: `memory.max` and `memory.swap.max` (swap alone).
//! The soft limit `memory_high` (OpenVZ's barrier) is `memory.high` on v2, where the kernel
//! throttles and reclaims above it, and `memory.soft_limit_in_bytes` on v1, where it only steers
//! reclaim when the host runs short.
//! A limit under what the cgroup uses now is refused up front rather than left to the kernel,
//! which on v1 would spend seconds reclaiming before failing with EBUSY.

use std::path::Path;

use fleet_protocol::Resources;
use fleet_protocol::units::format_size;

use super::file;
use super::{CgroupVersion, Ctx, LimitError, Plan};

/// Smallest memory limit accepted: below this a container cannot even start a shell.
pub const MEMORY_MIN: u64 = 1 << 20;
const PAGE: u64 = 4096;

/// The limit the kernel stores for `bytes` (it counts whole pages, rounding down).
pub fn page_round(bytes: u64) -> u64 {
    bytes / PAGE * PAGE
}

fn files(version: CgroupVersion) -> (&'static str, &'static str, &'static str) {
    match version {
        CgroupVersion::V1 => (
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.usage_in_bytes",
        ),
        CgroupVersion::V2 => ("memory.max", "memory.swap.max", "memory.current"),
    }
}

/// The soft limit's file.
fn high_file(version: CgroupVersion) -> &'static str {
    match version {
        CgroupVersion::V1 => "memory.soft_limit_in_bytes",
        CgroupVersion::V2 => "memory.high",
    }
}

/// Whether the cgroup at `dir` can limit swap.
pub fn swap_supported(version: CgroupVersion, dir: &Path) -> bool {
    dir.join(files(version).1).exists()
}

pub(crate) fn plan(ctx: &Ctx, res: &Resources, plan: &mut Plan) -> Result<(), LimitError> {
    if let Some(memory) = res.memory
        && memory < MEMORY_MIN
    {
        return Err(LimitError::invalid(
            "memory",
            memory,
            format!(
                "the memory limit must be at least {}",
                format_size(MEMORY_MIN)
            ),
        ));
    }
    if let Some(high) = res.memory_high {
        if high < MEMORY_MIN {
            return Err(LimitError::invalid(
                "memory_high",
                format_size(high),
                format!(
                    "the soft limit must be at least {}",
                    format_size(MEMORY_MIN)
                ),
            ));
        }
        if let Some(memory) = res.memory.filter(|&m| high > m) {
            return Err(LimitError::invalid(
                "memory_high",
                format_size(high),
                format!(
                    "above memory {}: the soft limit could never be reached; valid is at most memory",
                    format_size(memory)
                ),
            ));
        }
    }
    if res.swap.is_some() && res.memory.is_none() {
        return Err(LimitError::invalid(
            "swap",
            format_size(res.swap.unwrap_or(0)),
            "swap is allowed beyond memory, so it needs memory to be set too",
        ));
    }
    let Some(dir) = ctx.dir_for(&[
        ("memory", res.memory.is_some()),
        ("memory_high", res.memory_high.is_some()),
    ])?
    else {
        return Ok(());
    };
    let new_high = match (ctx.version, res.memory_high) {
        (_, Some(h)) => h.to_string(),
        (CgroupVersion::V1, None) => "-1".to_string(),
        (CgroupVersion::V2, None) => "max".to_string(),
    };
    plan.replace(dir.join(high_file(ctx.version)), new_high)?;
    let (limit_file, swap_file, usage_file) = files(ctx.version);
    let has_swap = swap_supported(ctx.version, dir);
    if res.swap.is_some() && !has_swap {
        return Err(LimitError::unsupported(
            "swap",
            format!(
                "{} is missing: the kernel does not account swap (boot with swapaccount=1)",
                dir.join(swap_file).display()
            ),
        ));
    }
    if let Some(memory) = res.memory {
        let usage = file::read_u64(&dir.join(usage_file))?;
        if memory < usage {
            return Err(LimitError::invalid(
                "memory",
                format_size(memory),
                format!(
                    "the container uses {} now; valid is at least that much (or stop it first)",
                    format_size(usage)
                ),
            ));
        }
    }
    let limit_path = dir.join(limit_file);
    let old_limit = file::read(&limit_path)?;
    match ctx.version {
        CgroupVersion::V1 => {
            let new_limit = res.memory.map_or("-1".to_string(), |m| m.to_string());
            if !has_swap {
                plan.push(limit_path, new_limit, Some(old_limit));
                return Ok(());
            }
            let swap_path = dir.join(swap_file);
            let old_swap = file::read(&swap_path)?;
            let new_swap = match (res.memory, res.swap) {
                (Some(m), Some(s)) => m.saturating_add(s).to_string(),
                _ => "-1".to_string(),
            };
            let as_bytes = |v: &str| v.parse::<u64>().unwrap_or(u64::MAX);
            // Keep memory ≤ memory+swap after each write: raise memsw first when the new
            // memory limit would exceed the current memsw limit, lower memory first otherwise.
            if as_bytes(&new_limit) > as_bytes(&old_swap) {
                plan.push(swap_path, new_swap, Some(old_swap));
                plan.push(limit_path, new_limit, Some(old_limit));
            } else {
                plan.push(limit_path, new_limit, Some(old_limit));
                plan.push(swap_path, new_swap, Some(old_swap));
            }
        }
        CgroupVersion::V2 => {
            let value = res.memory.map_or("max".to_string(), |m| m.to_string());
            plan.push(limit_path, value, Some(old_limit));
            if has_swap {
                let value = res.swap.map_or("max".to_string(), |s| s.to_string());
                plan.replace(dir.join(swap_file), value)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn read(
    version: CgroupVersion,
    dir: &Path,
    out: &mut Resources,
) -> Result<(), LimitError> {
    let (limit_file, swap_file, _) = files(version);
    let has_swap = swap_supported(version, dir);
    match version {
        CgroupVersion::V1 => {
            out.memory = file::read_v1_bytes_limit(&dir.join(limit_file))?;
            out.memory_high = file::read_v1_bytes_limit(&dir.join(high_file(version)))?;
            out.swap = if has_swap {
                file::read_v1_bytes_limit(&dir.join(swap_file))?
                    .map(|memsw| memsw.saturating_sub(out.memory.unwrap_or(0)))
            } else {
                None
            };
        }
        CgroupVersion::V2 => {
            out.memory = file::read_max(&dir.join(limit_file))?;
            out.memory_high = file::read_max(&dir.join(high_file(version)))?;
            out.swap = if has_swap {
                file::read_max(&dir.join(swap_file))?
            } else {
                None
            };
        }
    }
    Ok(())
}
