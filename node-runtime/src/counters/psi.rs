//! Pressure stall information (PSI) of one container: how much of the time its tasks waited for
//! CPU, memory or I/O, from the cgroup v2 files `cpu.pressure`, `memory.pressure` and
//! `io.pressure`. Beancounters say how close a container is to its limits; PSI says how much
//! it suffers from them (or from its neighbours), which is what an operator tuning cpu.units
//! or memory_high wants to see. cgroup v1 has no per-cgroup PSI: no rows there.
//!
//! Each file has a `some` line (at least one task stalled) and, except `cpu.pressure` on old
//! kernels, a `full` line (every task stalled): `some avg10=1.52 avg60=0.40 avg300=0.09
//! total=1234567`, averages in percent over 10, 60 and 300 s, the total in µs.

use std::path::Path;

use serde::Serialize;

use crate::limits::CgroupVersion;

/// One line of a pressure file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stall {
    /// Share of the last 10 s stalled, in hundredths of a percent (152 is 1.52 %).
    pub avg10: u32,
    /// Over the last 60 s, same unit.
    pub avg60: u32,
    /// Over the last 300 s, same unit.
    pub avg300: u32,
    /// Time stalled since the cgroup was made, in µs.
    pub total_us: u64,
}

/// One resource's pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pressure {
    /// `cpu`, `memory` or `io`.
    pub resource: &'static str,
    /// Some task stalled.
    pub some: Stall,
    /// Every task stalled at once, when the kernel reports it.
    pub full: Option<Stall>,
}

/// Hundredths from a `1.52` text.
fn hundredths(text: &str) -> Option<u32> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac: String = frac.chars().chain("00".chars()).take(2).collect();
    Some(whole.parse::<u32>().ok()? * 100 + frac.parse::<u32>().ok()?)
}

fn stall(line: &str) -> Option<Stall> {
    let mut s = Stall::default();
    for kv in line.split_whitespace().skip(1) {
        let (k, v) = kv.split_once('=')?;
        match k {
            "avg10" => s.avg10 = hundredths(v)?,
            "avg60" => s.avg60 = hundredths(v)?,
            "avg300" => s.avg300 = hundredths(v)?,
            "total" => s.total_us = v.parse().ok()?,
            _ => {}
        }
    }
    Some(s)
}

/// Parses a pressure file's text; `None` when it has no `some` line.
pub fn parse(resource: &'static str, text: &str) -> Option<Pressure> {
    let line = |kind: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .and_then(stall)
    };
    Some(Pressure {
        resource,
        some: line("some")?,
        full: line("full"),
    })
}

/// The pressure rows of the v2 cgroup at `dir`; none on v1, and none for a file the kernel
/// does not offer (PSI off: `psi=0` on the kernel command line).
pub fn read(version: CgroupVersion, dir: &Path) -> Vec<Pressure> {
    if version != CgroupVersion::V2 {
        return Vec::new();
    }
    [
        ("cpu", "cpu.pressure"),
        ("memory", "memory.pressure"),
        ("io", "io.pressure"),
    ]
    .into_iter()
    .filter_map(|(resource, file)| {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        parse(resource, &text)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_and_full_lines_parse_to_hundredths_and_micros() {
        let p = parse(
            "memory",
            "some avg10=1.52 avg60=0.40 avg300=12.05 total=1234567\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
        )
        .unwrap();
        assert_eq!(
            p.some,
            Stall {
                avg10: 152,
                avg60: 40,
                avg300: 1205,
                total_us: 1_234_567
            }
        );
        assert_eq!(p.full.unwrap().total_us, 42);
        let cpu = parse("cpu", "some avg10=100.00 avg60=3.5 avg300=0 total=9\n").unwrap();
        assert_eq!(
            (cpu.some.avg10, cpu.some.avg60, cpu.some.avg300),
            (10000, 350, 0)
        );
        assert_eq!(cpu.full, None);
        assert_eq!(parse("io", ""), None);
    }

    #[test]
    fn v1_cgroups_have_no_pressure_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cpu.pressure"), "some avg10=0.00 total=1\n").unwrap();
        assert!(read(CgroupVersion::V1, dir.path()).is_empty());
        assert_eq!(read(CgroupVersion::V2, dir.path()).len(), 1);
    }
}
