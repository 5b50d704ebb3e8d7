//! CPU pinning (`cpu.cpus` in the spec): `cpuset.cpus` on v1 and v2.
//!
//! v1 refuses tasks in a cpuset whose `cpuset.cpus` or `cpuset.mems` is empty, so removing the
//! pin writes the parent's CPUs back, and an empty `cpuset.mems` is filled from the parent. v2
//! takes an empty `cpuset.cpus` as "inherit from the parent". CPUs are checked against the
//! parent's effective CPUs, which on a top-level container cgroup are the host's online CPUs.

use std::collections::BTreeSet;
use std::path::Path;

use fleet_protocol::Resources;

use super::file;
use super::{CgroupVersion, Ctx, LimitError, Plan};

/// Parses a kernel CPU list (`0-3,6`) into CPU numbers.
pub fn parse(list: &str) -> Result<BTreeSet<u32>, String> {
    let mut cpus = BTreeSet::new();
    for part in list.trim().split(',').filter(|p| !p.trim().is_empty()) {
        let part = part.trim();
        let bad = || format!("{part:?} is not a CPU number or range such as 0-3");
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (
                lo.trim().parse::<u32>().map_err(|_| bad())?,
                hi.trim().parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<u32>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if lo > hi || hi - lo > 65_536 {
            return Err(bad());
        }
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

/// Formats CPU numbers as the kernel does (`0-3,6`).
pub fn format(cpus: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = cpus.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// The kernel's spelling of a CPU list (`0,1,2` becomes `0-2`).
pub fn canonical(list: &str) -> Result<String, String> {
    parse(list).map(|c| format(&c))
}

fn effective_file(version: CgroupVersion) -> &'static str {
    match version {
        CgroupVersion::V1 => "cpuset.effective_cpus",
        CgroupVersion::V2 => "cpuset.cpus.effective",
    }
}

fn parent(dir: &Path) -> &Path {
    dir.parent().unwrap_or(dir)
}

pub(crate) fn plan(ctx: &Ctx, res: &Resources, plan: &mut Plan) -> Result<(), LimitError> {
    let wanted = match res.cpus.as_deref() {
        Some(list) => {
            let cpus = parse(list)
                .map_err(|why| LimitError::invalid("cpu.cpus", format!("{list:?}"), why))?;
            if cpus.is_empty() {
                return Err(LimitError::invalid(
                    "cpu.cpus",
                    format!("{list:?}"),
                    "name at least one CPU, such as 0 or 0-1",
                ));
            }
            Some(cpus)
        }
        None => None,
    };
    let Some(dir) = ctx.dir_for(&[("cpu.cpus", wanted.is_some())])? else {
        return Ok(());
    };
    let host_text = file::read(&parent(dir).join(effective_file(ctx.version)))?;
    let host = parse(&host_text).map_err(|why| LimitError::Parse {
        path: parent(dir).join(effective_file(ctx.version)),
        content: host_text.clone(),
        expected: why,
    })?;
    let path = dir.join("cpuset.cpus");
    let old = file::read(&path)?;
    let value = match &wanted {
        Some(cpus) => {
            let missing: BTreeSet<u32> = cpus.difference(&host).copied().collect();
            if !missing.is_empty() {
                return Err(LimitError::invalid(
                    "cpu.cpus",
                    format!("{:?}", format(cpus)),
                    format!(
                        "CPUs {} are not on this host; valid CPUs are {}",
                        format(&missing),
                        format(&host)
                    ),
                ));
            }
            format(cpus)
        }
        None => match ctx.version {
            CgroupVersion::V1 => file::read(&parent(dir).join("cpuset.cpus"))?,
            CgroupVersion::V2 => String::new(),
        },
    };
    if ctx.version == CgroupVersion::V1 {
        let mems = dir.join("cpuset.mems");
        if file::read(&mems)?.is_empty() {
            let parent_mems = file::read(&parent(dir).join("cpuset.mems"))?;
            plan.push(mems, parent_mems, None);
        }
    }
    plan.push(path, value, Some(old).filter(|o| !o.is_empty()));
    Ok(())
}

pub(crate) fn read(version: CgroupVersion, dir: &Path) -> Result<Option<String>, LimitError> {
    let cpus = file::read(&dir.join("cpuset.cpus"))?;
    if cpus.is_empty() {
        return Ok(None);
    }
    if version == CgroupVersion::V1 && file::read(&parent(dir).join("cpuset.cpus"))? == cpus {
        return Ok(None);
    }
    Ok(Some(cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_format_like_the_kernel() {
        for (text, want) in [
            ("0-1,3", "0-1,3"),
            ("0,1,2", "0-2"),
            ("5", "5"),
            ("3,1", "1,3"),
        ] {
            assert_eq!(canonical(text).unwrap(), want, "{text}");
        }
        for bad in ["a", "3-1", "1-", "-2"] {
            assert!(parse(bad).is_err(), "{bad} should fail");
        }
    }
}
