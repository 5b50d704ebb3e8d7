//! The rows the memory controller keeps inside its limit: kernel memory (kmemsize), shared
//! memory (shmpages), mlocked and other unevictable pages (lockedpages) and socket buffers
//! (tcpsockbuf on v1, sockbuf on v2). OpenVZ limited each apart; the kernel counts them inside
//! the container's one memory limit, so their barrier and limit are the memory limit's, and a
//! failcnt is shown only where the kernel counts hits (v1's kmem and tcp counters).
//!
//! Units are OpenVZ's: bytes for kmemsize and the socket buffers, 4 KiB pages for shmpages and
//! lockedpages.

use std::path::Path;

use super::Beancounter;
use crate::limits::file::{self, read_u64, read_v1_bytes_limit};
use crate::limits::{CgroupVersion, LimitError};

const PAGE: u64 = 4096;

/// The rows read from the memory controller's directory `dir`.
pub fn rows(version: CgroupVersion, dir: &Path) -> Result<Vec<Beancounter>, LimitError> {
    let stat = file::read(&dir.join("memory.stat"))?;
    // v1 keeps the hierarchy's sums under total_*; v2's memory.stat is hierarchical already.
    let stat_key = |key: &str| match version {
        CgroupVersion::V1 => file::keyed_value(&stat, &format!("total_{key}"))
            .or_else(|| file::keyed_value(&stat, key)),
        CgroupVersion::V2 => file::keyed_value(&stat, key),
    };
    let mut rows = Vec::with_capacity(4);
    match version {
        CgroupVersion::V1 => {
            rows.push(v1_counter(dir, "kmemsize", "memory.kmem")?);
        }
        CgroupVersion::V2 => {
            // `kernel` (5.18+) sums every kernel allocation charged; older kernels list parts.
            let kernel = stat_key("kernel").unwrap_or_else(|| {
                ["slab", "kernel_stack", "pagetables", "percpu"]
                    .into_iter()
                    .filter_map(stat_key)
                    .sum()
            });
            rows.push(Beancounter::counted("kmemsize", kernel));
        }
    }
    rows.push(Beancounter::counted(
        "shmpages",
        stat_key("shmem").unwrap_or(0) / PAGE,
    ));
    rows.push(Beancounter::counted(
        "lockedpages",
        stat_key("unevictable").unwrap_or(0) / PAGE,
    ));
    match version {
        CgroupVersion::V1 if dir.join("memory.kmem.tcp.usage_in_bytes").exists() => {
            rows.push(v1_counter(dir, "tcpsockbuf", "memory.kmem.tcp")?);
        }
        CgroupVersion::V1 => {}
        CgroupVersion::V2 => rows.push(Beancounter::counted(
            "sockbuf",
            stat_key("sock").unwrap_or(0),
        )),
    }
    Ok(rows)
}

/// A v1 page counter's four files (`<prefix>.usage_in_bytes`, `max_usage_in_bytes`,
/// `limit_in_bytes`, `failcnt`); a file the kernel does not have reads as unknown.
fn v1_counter(dir: &Path, resource: &'static str, prefix: &str) -> Result<Beancounter, LimitError> {
    let path = |name: &str| dir.join(format!("{prefix}.{name}"));
    let optional = |name: &str| -> Result<Option<u64>, LimitError> {
        let p = path(name);
        if p.exists() {
            read_u64(&p).map(Some)
        } else {
            Ok(None)
        }
    };
    let limit = if path("limit_in_bytes").exists() {
        read_v1_bytes_limit(&path("limit_in_bytes"))?
    } else {
        None
    };
    Ok(Beancounter {
        resource,
        held: optional("usage_in_bytes")?.unwrap_or(0),
        maxheld: optional("max_usage_in_bytes")?,
        barrier: limit,
        limit,
        failcnt: optional("failcnt")?,
    })
}

/// On v1 the memory controller counts TCP buffers only in a cgroup whose TCP limit was ever
/// written (that turns the accounting on); writing "no limit" turns it on and limits nothing.
/// v2 always counts them. Called when the container's cgroup is made.
pub fn enable_tcp_accounting(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("memory.kmem.tcp.limit_in_bytes");
    if path.exists() {
        std::fs::write(path, "-1")?;
    }
    Ok(())
}
