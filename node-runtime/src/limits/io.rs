//! Block I/O: proportional weight and bandwidth / IOPS caps on the container's own disk device.
//!
//! v1 (`blkio`): a weight file exists only with a proportional scheduler (`blkio.weight` with
//! CFQ, `blkio.bfq.weight` with BFQ); caps go to `blkio.throttle.{read,write}_{bps,iops}_device`
//! as `major:minor value` (0 removes). v2 (`io`): `io.weight` / `io.bfq.weight`, caps in `io.max`
//! as `major:minor rbps=.. wbps=.. riops=.. wiops=..` (`max` removes).
//! The spec's weight uses the v2 scale (1..=10000, default 100); BFQ's files use 1..=1000 with
//! the same default, so weights up to 100 are written as they are and those above are squeezed
//! linearly into 100..=1000 (as systemd does). CFQ's `blkio.weight` left the kernel in 5.0.

use std::path::{Path, PathBuf};

use fleet_protocol::IoLimits;

use super::file;
use super::{CgroupVersion, Ctx, DevNum, LimitError, Plan};

/// The weight file this cgroup offers and its valid range, or `None` when no proportional I/O
/// scheduler is active. On v2 both files can exist at once (iocost built in, BFQ loaded): the
/// weight goes to `io.weight` when iocost is switched on for some disk (the root's
/// `io.cost.qos` says `enable=1`), else to `io.bfq.weight` where BFQ is loaded, else to
/// `io.weight` (which nothing reads then; the hello says so, see [`super::io_scheduler`]).
pub fn weight_file(version: CgroupVersion, dir: &Path) -> Option<(PathBuf, u64, u64)> {
    const IO: (&str, u64, u64) = ("io.weight", 1, 10_000);
    const BFQ: (&str, u64, u64) = ("io.bfq.weight", 1, 1000);
    let candidates: &[(&str, u64, u64)] = match version {
        CgroupVersion::V1 => &[("blkio.bfq.weight", 1, 1000)],
        CgroupVersion::V2 if iocost_on_above(dir) => &[IO, BFQ],
        CgroupVersion::V2 => &[BFQ, IO],
    };
    candidates
        .iter()
        .map(|(name, lo, hi)| (dir.join(name), *lo, *hi))
        .find(|(path, _, _)| path.exists())
}

/// Whether the v2 root above `dir` (the ancestor with `io.cost.qos`) enables iocost anywhere.
fn iocost_on_above(dir: &Path) -> bool {
    dir.ancestors()
        .map(|d| d.join("io.cost.qos"))
        .find(|qos| qos.exists())
        .and_then(|qos| std::fs::read_to_string(qos).ok())
        .is_some_and(|text| {
            text.lines()
                .any(|l| l.split_whitespace().any(|w| w == "enable=1"))
        })
}

fn scale(weight: u16, lo: u64, hi: u64) -> u64 {
    let w = u64::from(weight);
    if hi == 10_000 || w <= 100 {
        w.clamp(lo, hi)
    } else {
        100 + (w - 100) * 900 / 9900
    }
}

fn unscale(value: u64, hi: u64) -> u64 {
    if hi == 10_000 || value <= 100 {
        value
    } else {
        100 + (value - 100) * 9900 / 900
    }
}

/// The spec weight as the node compares it: to BFQ's precision (1..=1000, so weights above
/// 100 to about the nearest eleven) on every host, whichever file holds it. The node cannot know
/// from the spec alone which scale a host's scheduler uses, and [`read`] brings an exact
/// `io.weight` to the same precision, so a weight never reads as drift on either.
pub fn weight_round_trip(weight: u16) -> u16 {
    unscale(scale(weight, 1, 1000), 1000) as u16
}

const CAPS: [(&str, &str, &str); 4] = [
    ("io.read_bps", "blkio.throttle.read_bps_device", "rbps"),
    ("io.write_bps", "blkio.throttle.write_bps_device", "wbps"),
    ("io.read_iops", "blkio.throttle.read_iops_device", "riops"),
    ("io.write_iops", "blkio.throttle.write_iops_device", "wiops"),
];

fn caps(io: &IoLimits) -> [Option<u64>; 4] {
    [io.read_bps, io.write_bps, io.read_iops, io.write_iops]
}

pub(crate) fn plan(
    ctx: &Ctx,
    io: &IoLimits,
    device: Option<DevNum>,
    plan: &mut Plan,
) -> Result<(), LimitError> {
    if io.weight == Some(0) || io.weight.is_some_and(|w| w > 10_000) {
        return Err(LimitError::invalid(
            "io.weight",
            io.weight.unwrap_or(0),
            "valid I/O weights are 1..=10000 (default 100)",
        ));
    }
    if let Some(p) = io.priority.filter(|&p| p > fleet_protocol::ioprio::MAX) {
        return Err(LimitError::invalid(
            "io.priority",
            p,
            "valid I/O priorities are 0..=7 (OpenVZ's; 4 is the default)",
        ));
    }
    for ((field, _, _), value) in CAPS.iter().zip(caps(io)) {
        if value == Some(0) {
            return Err(LimitError::invalid(
                field,
                0,
                "an I/O cap must be at least 1 (leave it unset for no cap)",
            ));
        }
        if value.is_some() && device.is_none() {
            return Err(LimitError::unsupported(
                field,
                "I/O caps apply to the container's own disk device, and this container has none",
            ));
        }
    }
    let Some(dir) = ctx.dir_for(&[
        ("io.weight", io.weight.is_some()),
        ("io.read_bps", caps(io).iter().any(Option::is_some)),
    ])?
    else {
        return Ok(());
    };
    match (weight_file(ctx.version, dir), io.effective_weight()) {
        (Some((path, lo, hi)), weight) => {
            let old = file::read(&path)?;
            let value = scale(weight.unwrap_or(100), lo, hi);
            let is_v2_weight = path.ends_with("io.weight");
            let value = if is_v2_weight {
                format!("default {value}")
            } else {
                value.to_string()
            };
            plan.push(path, value, Some(old).filter(|o| !o.contains('\n')));
        }
        // A priority is a preference every imported OpenVZ container carries: where no file
        // takes a weight it is not written, and the plan warns (orchestrator diff/io_weight.rs).
        (None, Some(_)) if io.weight.is_none() => {}
        (None, Some(_)) => {
            return Err(LimitError::unsupported(
                "io.weight",
                format!(
                    "no I/O weight file in {} (needs the BFQ or CFQ I/O scheduler)",
                    dir.display()
                ),
            ));
        }
        (None, None) => {}
    }
    let Some(dev) = device else { return Ok(()) };
    match ctx.version {
        CgroupVersion::V1 => {
            for ((field, name, _), value) in CAPS.iter().zip(caps(io)) {
                let path = dir.join(name);
                if !path.exists() {
                    if value.is_some() {
                        return Err(LimitError::unsupported(
                            field,
                            format!("{} is missing (no blk-throttle)", path.display()),
                        ));
                    }
                    continue;
                }
                let old = device_line(&file::read(&path)?, dev)
                    .map(|v| format!("{dev} {v}"))
                    .unwrap_or_else(|| format!("{dev} 0"));
                plan.push(path, format!("{dev} {}", value.unwrap_or(0)), Some(old));
            }
        }
        CgroupVersion::V2 => {
            let path = dir.join("io.max");
            if !path.exists() {
                if caps(io).iter().any(Option::is_some) {
                    return Err(LimitError::unsupported(
                        "io.read_bps",
                        format!("{} is missing", path.display()),
                    ));
                }
                return Ok(());
            }
            let old = device_line(&file::read(&path)?, dev)
                .map(|v| format!("{dev} {v}"))
                .unwrap_or_else(|| format!("{dev} rbps=max wbps=max riops=max wiops=max"));
            let fields: Vec<String> = CAPS
                .iter()
                .zip(caps(io))
                .map(|((_, _, key), v)| match v {
                    Some(v) => format!("{key}={v}"),
                    None => format!("{key}=max"),
                })
                .collect();
            plan.push(path, format!("{dev} {}", fields.join(" ")), Some(old));
        }
    }
    Ok(())
}

/// The rest of the line for `dev` in a `major:minor ...` file.
fn device_line(text: &str, dev: DevNum) -> Option<String> {
    let key = dev.to_string();
    text.lines().find_map(|line| {
        let (head, rest) = line.trim().split_once(' ')?;
        (head == key).then(|| rest.trim().to_string())
    })
}

pub(crate) fn read(
    version: CgroupVersion,
    dir: &Path,
    device: Option<DevNum>,
) -> Result<IoLimits, LimitError> {
    let mut out = IoLimits::default();
    if let Some((path, _, hi)) = weight_file(version, dir) {
        let text = file::read(&path)?;
        let first = text.lines().next().unwrap_or("");
        let number = first.strip_prefix("default ").unwrap_or(first).trim();
        if let Ok(w) = number.parse::<u64>() {
            let w = unscale(w, hi);
            let w = weight_round_trip(w.min(10_000) as u16);
            out.weight = (w != 100).then_some(w);
        }
    }
    let Some(dev) = device else { return Ok(out) };
    let mut values = [None; 4];
    match version {
        CgroupVersion::V1 => {
            for (slot, (_, name, _)) in values.iter_mut().zip(CAPS.iter()) {
                let path = dir.join(name);
                if path.exists() {
                    *slot = device_line(&file::read(&path)?, dev)
                        .and_then(|v| v.parse::<u64>().ok())
                        .filter(|&v| v > 0);
                }
            }
        }
        CgroupVersion::V2 => {
            let path = dir.join("io.max");
            if path.exists()
                && let Some(line) = device_line(&file::read(&path)?, dev)
            {
                for (slot, (_, _, key)) in values.iter_mut().zip(CAPS.iter()) {
                    *slot = line.split_whitespace().find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        (k == *key).then(|| v.parse().ok()).flatten()
                    });
                }
            }
        }
    }
    [out.read_bps, out.write_bps, out.read_iops, out.write_iops] = values;
    Ok(out)
}
