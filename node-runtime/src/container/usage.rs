//! usage: what a running container uses now, for the orchestrator's density reports. Built on
//! the beancounters ([`crate::counters`]): memory and disk space held, and CPU time turned into an
//! average percent of one CPU since init started.

use fleet_protocol::ContainerStatus;
use fleet_protocol::message::Usage;

use super::Runtime;
use crate::sys::process;

/// Clock ticks per second in /proc/PID/stat and /proc/uptime units (USER_HZ). It is 100 on every
/// architecture Linux ships for servers; the kernel keeps it fixed for userspace's sake.
const USER_HZ: u64 = 100;

impl Runtime {
    /// `status` with its usage filled in, when the container runs and its counters can be read.
    /// Separate from `status` because plan and apply, which list on every run, do not need it.
    pub fn with_usage(&self, mut status: ContainerStatus) -> ContainerStatus {
        if let Some(init) = status.init_pid {
            status.usage = self.usage(&status.name, init);
        }
        status
    }

    /// Usage of the running container `name` whose init is `init`; `None` if it cannot be read.
    fn usage(&self, name: &str, init: i32) -> Option<Usage> {
        let counters = self.counters(Some(name)).ok()?.pop()?;
        let held = |resource| counters.get(resource).map(|c| c.held);
        let cpu_usec = held("cpu").unwrap_or(0);
        let age_usec = process::start_time(init)
            .zip(uptime_ticks())
            .map(|(start, now)| now.saturating_sub(start) * (1_000_000 / USER_HZ))
            .filter(|age| *age > 0);
        Some(Usage {
            cpu_percent: age_usec.map_or(0, |age| (cpu_usec * 100 / age) as u32),
            memory: held("memory").unwrap_or(0),
            disk: held("diskspace"),
            memory_peak: counters.get("memory").and_then(|c| c.maxheld),
            memory_failcnt: counters.get("memory").and_then(|c| c.failcnt),
            memory_pressure: counters
                .pressure
                .iter()
                .find(|p| p.resource == "memory")
                .map(|p| p.some.avg60),
        })
    }
}

/// Seconds since boot, in clock ticks.
fn uptime_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some((seconds * USER_HZ as f64) as u64)
}
