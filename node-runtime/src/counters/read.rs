//! Reads one container's beancounters from its cgroup and disk.

use std::path::Path;

use super::{Beancounter, ContainerCounters};
use crate::disk;
use crate::limits::file::{self, read_keyed, read_max, read_u64, read_v1_bytes_limit};
use crate::limits::{CgroupDirs, CgroupVersion, Controller, LimitError};

/// Reads the counters of the container `name` whose cgroup is `cgroup` and whose disk image is
/// mounted at `disk_mount` (if it has one). Controllers that are missing give no row.
pub fn read(
    name: &str,
    cgroup: &dyn CgroupDirs,
    disk_mount: Option<&Path>,
) -> Result<ContainerCounters, LimitError> {
    let version = cgroup.version();
    let mut counters = Vec::with_capacity(16);
    counters.push(cpu(version, cgroup)?);
    if let Some(dir) = cgroup.controller_dir(Controller::Memory) {
        counters.extend(memory(version, &dir)?);
        counters.extend(super::kernel::rows(version, &dir)?);
    }
    let pids_dir = cgroup.controller_dir(Controller::Pids);
    if let Some(dir) = &pids_dir {
        counters.push(pids(dir)?);
    }
    if let Some(dir) = pids_dir.or_else(|| cgroup.controller_dir(Controller::Memory)) {
        let procs = super::tasks::procs(&dir);
        counters.extend(super::tasks::rows(Path::new("/proc"), &procs));
    }
    if let Some(mount) = disk_mount {
        let usage = disk::usage_at(mount).map_err(|e| LimitError::Read {
            path: mount.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        counters.push(Beancounter::limited(
            "diskspace",
            usage.space_used,
            Some(usage.space_total),
        ));
        counters.push(Beancounter::limited(
            "diskinodes",
            usage.inodes_used,
            Some(usage.inodes_total),
        ));
    }
    // Every v2 cgroup has the pressure files, whichever controllers it has.
    let pressure = cgroup
        .controller_dir(Controller::Cpuacct)
        .map(|dir| super::psi::read(version, &dir))
        .unwrap_or_default();
    Ok(ContainerCounters {
        name: name.to_string(),
        counters,
        pressure,
    })
}

fn cpu(version: CgroupVersion, cgroup: &dyn CgroupDirs) -> Result<Beancounter, LimitError> {
    let cpu_dir = cgroup.controller_dir(Controller::Cpu);
    let (held, limit, failcnt) = match version {
        CgroupVersion::V1 => {
            let held = match cgroup.controller_dir(Controller::Cpuacct) {
                Some(dir) => read_u64(&dir.join("cpuacct.usage"))? / 1000,
                None => 0,
            };
            let (limit, failcnt) = match &cpu_dir {
                Some(dir) => {
                    let quota = file::read_i64(&dir.join("cpu.cfs_quota_us"))?;
                    let throttled = read_keyed(&dir.join("cpu.stat"), "nr_throttled")?;
                    ((quota > 0).then_some(quota as u64), throttled)
                }
                None => (None, None),
            };
            (held, limit, failcnt)
        }
        CgroupVersion::V2 => {
            // cpu.stat is a core file: every v2 cgroup has usage_usec, with or without the cpu
            // controller; the throttling keys appear only with it.
            let dir = cgroup
                .controller_dir(Controller::Cpuacct)
                .or(cpu_dir.clone());
            let stat = match &dir {
                Some(d) => file::read(&d.join("cpu.stat"))?,
                None => String::new(),
            };
            let held = file::keyed_value(&stat, "usage_usec").unwrap_or(0);
            let limit = match &cpu_dir {
                Some(d) => file::read(&d.join("cpu.max"))?
                    .split_whitespace()
                    .next()
                    .and_then(|q| q.parse().ok()),
                None => None,
            };
            (held, limit, file::keyed_value(&stat, "nr_throttled"))
        }
    };
    Ok(Beancounter {
        failcnt,
        ..Beancounter::limited("cpu", held, limit)
    })
}

fn optional_u64(path: &Path) -> Result<Option<u64>, LimitError> {
    if path.exists() {
        read_u64(path).map(Some)
    } else {
        Ok(None)
    }
}

fn memory(version: CgroupVersion, dir: &Path) -> Result<Vec<Beancounter>, LimitError> {
    let mut rows = Vec::with_capacity(2);
    match version {
        CgroupVersion::V1 => {
            let held = read_u64(&dir.join("memory.usage_in_bytes"))?;
            let maxheld = read_u64(&dir.join("memory.max_usage_in_bytes"))?;
            let limit = read_v1_bytes_limit(&dir.join("memory.limit_in_bytes"))?;
            rows.push(Beancounter {
                resource: "memory",
                held,
                maxheld: Some(maxheld),
                barrier: read_v1_bytes_limit(&dir.join("memory.soft_limit_in_bytes"))?,
                limit,
                failcnt: Some(read_u64(&dir.join("memory.failcnt"))?),
            });
            if dir.join("memory.memsw.usage_in_bytes").exists() {
                let memsw = read_u64(&dir.join("memory.memsw.usage_in_bytes"))?;
                let memsw_max = read_u64(&dir.join("memory.memsw.max_usage_in_bytes"))?;
                let memsw_limit = read_v1_bytes_limit(&dir.join("memory.memsw.limit_in_bytes"))?;
                let swap_limit = memsw_limit.map(|m| m.saturating_sub(limit.unwrap_or(0)));
                let held = memsw.saturating_sub(rows[0].held);
                rows.push(Beancounter {
                    resource: "swap",
                    held,
                    maxheld: Some(memsw_max.saturating_sub(maxheld).max(held)),
                    barrier: swap_limit,
                    limit: swap_limit,
                    failcnt: v1_swap_failcnt(
                        read_u64(&dir.join("memory.memsw.failcnt"))?,
                        memsw_max,
                        memsw_limit,
                    ),
                });
            }
        }
        CgroupVersion::V2 => {
            let events = dir.join("memory.events");
            rows.push(Beancounter {
                resource: "memory",
                held: read_u64(&dir.join("memory.current"))?,
                maxheld: optional_u64(&dir.join("memory.peak"))?,
                barrier: read_max(&dir.join("memory.high"))?,
                limit: read_max(&dir.join("memory.max"))?,
                failcnt: read_keyed(&events, "max")?,
            });
            if dir.join("memory.swap.current").exists() {
                rows.push(capped_counter(dir, "swap", "memory.swap")?);
            }
        }
    }
    Ok(rows)
}

/// The v1 swap row's failcnt from `memory.memsw.failcnt`. Recent kernels count v1 hits on the
/// memory counter only (page_counter's `track_failcnt`), not on memsw: the file stays 0 while the memsw limit is hit (seen on 6.18: memsw peak at the limit, an OOM kill,
/// failcnt 0). A 0 is true only while the peak stayed under the limit; once the peak reached it,
/// the count is unknown (`None`), not "never".
fn v1_swap_failcnt(failcnt: u64, memsw_max: u64, memsw_limit: Option<u64>) -> Option<u64> {
    let reached = memsw_limit.is_some_and(|limit| memsw_max >= limit);
    (failcnt > 0 || !reached).then_some(failcnt)
}

fn pids(dir: &Path) -> Result<Beancounter, LimitError> {
    capped_counter(dir, "pids", "pids")
}

/// A counter with one hard cap and no soft one, in the files v2 (and v1's pids controller)
/// name `<prefix>.current`, `.peak` (where the kernel has it), `.max` (barrier and limit alike)
/// and `.events` (its `max` hits).
fn capped_counter(
    dir: &Path,
    resource: &'static str,
    prefix: &str,
) -> Result<Beancounter, LimitError> {
    let file = |name: &str| dir.join(format!("{prefix}.{name}"));
    let limit = read_max(&file("max"))?;
    Ok(Beancounter {
        resource,
        held: read_u64(&file("current"))?,
        maxheld: optional_u64(&file("peak"))?,
        barrier: limit,
        limit,
        failcnt: read_keyed(&file("events"), "max")?,
    })
}

#[cfg(test)]
mod tests {
    use super::v1_swap_failcnt;

    #[test]
    fn a_v1_swap_failcnt_of_zero_at_the_limit_is_unknown() {
        const MI: u64 = 1 << 20;
        // Never reached: 0 is the truth, counted or not.
        assert_eq!(v1_swap_failcnt(0, 40 * MI, Some(64 * MI)), Some(0));
        assert_eq!(v1_swap_failcnt(0, 40 * MI, None), Some(0));
        // Reached, and a kernel that counts: its count.
        assert_eq!(v1_swap_failcnt(3, 64 * MI, Some(64 * MI)), Some(3));
        // Reached, and 0: this kernel does not count memsw hits.
        assert_eq!(v1_swap_failcnt(0, 64 * MI, Some(64 * MI)), None);
    }
}
