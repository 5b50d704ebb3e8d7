//! The three resources the scheduler accounts for (cpu, memory, disk), a container's demand of
//! them, and how amounts are shown to people.
//!
//! Neighbours: `hosts` turns host capacity into the same [`Amounts`]; `packer` and `explain`
//! compare the two; `capacity` (the density reports) reuses the formatting.

use std::fmt;

use serde::Serialize;

use crate::model::DesiredContainer;

/// One schedulable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// CPU, in percent of one CPU (`cpu_limit`'s unit).
    Cpu,
    /// Memory, in bytes.
    Memory,
    /// Disk image space, in bytes.
    Disk,
}

impl Resource {
    /// All resources in report order.
    pub const ALL: [Resource; 3] = [Resource::Cpu, Resource::Memory, Resource::Disk];

    /// Position in an [`Amounts`] array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lowercase name used in messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
            Resource::Disk => "disk",
        }
    }

    /// Formats an amount of this resource (`150%`, `1.5Gi`).
    pub fn format(self, amount: u64) -> String {
        match self {
            Resource::Cpu => format!("{amount}%"),
            Resource::Memory | Resource::Disk => human_bytes(amount),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An amount of each resource: cpu in percent of one CPU, memory and disk in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Amounts {
    /// CPU in percent of one CPU.
    pub cpu: u64,
    /// Memory in bytes.
    pub memory: u64,
    /// Disk in bytes.
    pub disk: u64,
}

impl Amounts {
    /// Builds amounts from the three values.
    pub fn new(cpu: u64, memory: u64, disk: u64) -> Self {
        Amounts { cpu, memory, disk }
    }

    /// The amount of one resource.
    pub fn get(&self, r: Resource) -> u64 {
        match r {
            Resource::Cpu => self.cpu,
            Resource::Memory => self.memory,
            Resource::Disk => self.disk,
        }
    }

    /// A mutable reference to the amount of one resource.
    pub fn get_mut(&mut self, r: Resource) -> &mut u64 {
        match r {
            Resource::Cpu => &mut self.cpu,
            Resource::Memory => &mut self.memory,
            Resource::Disk => &mut self.disk,
        }
    }

    /// Component-wise sum, saturating.
    pub fn plus(&self, other: &Amounts) -> Amounts {
        Amounts::new(
            self.cpu.saturating_add(other.cpu),
            self.memory.saturating_add(other.memory),
            self.disk.saturating_add(other.disk),
        )
    }

    /// Component-wise difference, saturating at zero.
    pub fn minus(&self, other: &Amounts) -> Amounts {
        Amounts::new(
            self.cpu.saturating_sub(other.cpu),
            self.memory.saturating_sub(other.memory),
            self.disk.saturating_sub(other.disk),
        )
    }

    /// True when every component of `self` is at most the one of `limit`.
    pub fn fits_within(&self, limit: &Amounts) -> bool {
        self.cpu <= limit.cpu && self.memory <= limit.memory && self.disk <= limit.disk
    }

    /// The first resource where `self` exceeds `limit`.
    pub fn first_excess(&self, limit: &Amounts) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| self.get(*r) > limit.get(*r))
    }

    /// Short form for messages: `cpu 150%, memory 2Gi, disk 10Gi`.
    pub fn describe(&self) -> String {
        Resource::ALL
            .iter()
            .map(|r| format!("{} {}", r, r.format(self.get(*r))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What an unlimited container is assumed to need. A container without a cpu limit still runs
/// and uses memory, so counting it as zero would let the scheduler stack any number of them on
/// one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemandDefaults {
    /// CPU demand, in percent of one CPU, of a container with neither `cpu_limit` nor a cpuset.
    pub cpu_percent: u64,
    /// Memory demand of a container without a memory limit.
    pub memory: u64,
    /// Disk demand of a container without `disk_space`.
    pub disk: u64,
}

impl Default for DemandDefaults {
    /// One CPU, 256Mi memory, no disk: a container without a cpu limit may use a whole CPU, and
    /// one without a disk image lives on the shared template layer alone.
    fn default() -> Self {
        DemandDefaults {
            cpu_percent: 100,
            memory: 256 << 20,
            disk: 0,
        }
    }
}

/// What a container demands of its host.
///
/// CPU is `cpu_limit`; without it, 100% per CPU of its cpuset; without either, the default.
/// Memory is its memory limit (swap is not counted: it lives outside host memory). Disk is its
/// image size.
pub fn demand(container: &DesiredContainer, defaults: &DemandDefaults) -> Amounts {
    demand_of(container.resources(), defaults)
}

/// What a container with resources `r` demands of its host (see [`demand`]): also a profile's,
/// for `fleet capacity --fit`.
pub fn demand_of(r: &fleet_protocol::Resources, defaults: &DemandDefaults) -> Amounts {
    let cpu = match (r.cpu_limit, r.cpus.as_deref()) {
        (Some(limit), _) => u64::from(limit),
        (None, Some(set)) => cpuset_len(set).map_or(defaults.cpu_percent, |n| n * 100),
        (None, None) => defaults.cpu_percent,
    };
    Amounts::new(
        cpu,
        r.memory.unwrap_or(defaults.memory),
        r.disk_space.unwrap_or(defaults.disk),
    )
}

/// Number of CPUs in a kernel cpuset list (`0-3,6`), or `None` if it does not parse.
fn cpuset_len(list: &str) -> Option<u64> {
    let mut n = 0u64;
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                b.checked_sub(a)? + 1
            }
            None => {
                part.parse::<u64>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// Bytes in the largest binary unit they reach, exact when whole (`512Mi`), else with one
/// decimal (`1.3Gi`); below 1Ki, plain bytes.
pub fn human_bytes(bytes: u64) -> String {
    for (suffix, m) in fleet_protocol::units::BINARY_UNITS {
        if bytes >= m {
            return if bytes.is_multiple_of(m) {
                format!("{}{suffix}", bytes / m)
            } else {
                format!("{:.1}{suffix}", bytes as f64 / m as f64)
            };
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuset_lengths() {
        for (list, want) in [
            ("0", Some(1)),
            ("0-3", Some(4)),
            ("0-1,4,6-7", Some(5)),
            ("x", None),
            ("3-1", None),
        ] {
            assert_eq!(cpuset_len(list), want, "{list}");
        }
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(512 << 20), "512Mi");
        assert_eq!(human_bytes((1 << 30) + (300 << 20)), "1.3Gi");
        assert_eq!(human_bytes(100), "100");
        assert_eq!(human_bytes(24_731_708 << 10), "23.6Gi");
        assert_eq!(human_bytes(4096 << 30), "4Ti");
    }
}
