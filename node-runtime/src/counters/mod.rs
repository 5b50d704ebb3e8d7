//! Beancounters in the spirit of OpenVZ's `/proc/user_beancounters`: for each resource what a
//! container holds now, the most it has held, its barrier and limit, and how often the limit was
//! hit (failcnt), read from the cgroup's files and the disk image.
//!
//! Sources (v1 / v2):
//! - cpu: held = CPU time in µs (`cpuacct.usage` / `cpu.stat usage_usec`), limit = the CFS quota
//!   in µs per 100 ms period, failcnt = periods throttled (`cpu.stat nr_throttled`).
//! - memory: `memory.usage_in_bytes`, `max_usage_in_bytes`, `soft_limit_in_bytes` (barrier),
//!   `limit_in_bytes`, `failcnt` / `memory.current`, `peak`, `high`, `max`, `events max`.
//! - swap: memsw less memory on v1 (maxheld there is the memsw peak less the memory peak, an
//!   estimate; failcnt unknown once the memsw peak reached the limit, which recent kernels do
//!   not count on v1), `memory.swap.*` on v2.
//! - pids: `pids.current`, `pids.peak`, `pids.max`, `pids.events max` (forks refused).
//! - diskspace, diskinodes: statvfs of the mounted image; the kernel keeps neither a peak nor a
//!   count of ENOSPC, so maxheld and failcnt are unknown (`null` in JSON, `-` in text).
//! - kmemsize, shmpages, lockedpages, tcpsockbuf (v1) / sockbuf (v2): what the memory
//!   controller charges inside the one memory limit (`kernel.rs`).
//! - numfile, numpty, numflock, numsiginfo: counted from the container's processes, which the
//!   kernel does not count per cgroup (`tasks.rs`, with what a read costs).
//! - pressure (v2): `cpu.pressure`, `memory.pressure`, `io.pressure` ([`psi`]), beside the rows.
//!
//! Neighbours: [`crate::limits`] writes the limits these rows show; [`render_text`] and JSON
//! (serde) are what `fleet-node counters` prints.

mod kernel;
pub mod psi;
mod read;
mod tasks;
mod text;

use serde::Serialize;

pub use kernel::enable_tcp_accounting;
pub use read::read;
pub use text::render_text;

/// One resource's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Beancounter {
    /// Resource name (`cpu`, `memory`, `swap`, `pids`, `diskspace`, `diskinodes`).
    pub resource: &'static str,
    /// In use now.
    pub held: u64,
    /// Most ever in use, when the kernel keeps it.
    pub maxheld: Option<u64>,
    /// Soft limit; `None` is unlimited.
    pub barrier: Option<u64>,
    /// Hard limit; `None` is unlimited.
    pub limit: Option<u64>,
    /// Times the limit was hit, when the kernel counts it.
    pub failcnt: Option<u64>,
}

impl Beancounter {
    /// A row that only counts what is `held`: no limit, no peak and no failures known.
    pub fn counted(resource: &'static str, held: u64) -> Beancounter {
        Beancounter::limited(resource, held, None)
    }

    /// A row whose soft and hard limits are both `limit`, with no peak and no failures known.
    pub fn limited(resource: &'static str, held: u64, limit: Option<u64>) -> Beancounter {
        Beancounter {
            resource,
            held,
            maxheld: None,
            barrier: limit,
            limit,
            failcnt: None,
        }
    }
}

/// Every row of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerCounters {
    /// Container name.
    pub name: String,
    /// Rows, in a fixed order.
    pub counters: Vec<Beancounter>,
    /// Pressure stall information, cpu, memory and io (cgroup v2 only; [`psi`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pressure: Vec<psi::Pressure>,
}

impl ContainerCounters {
    /// The row for `resource`.
    pub fn get(&self, resource: &str) -> Option<&Beancounter> {
        self.counters.iter().find(|c| c.resource == resource)
    }
}
