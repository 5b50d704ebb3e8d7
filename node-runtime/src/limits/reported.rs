//! Live limits in the spec's own terms, for the node's status and list.
//!
//! The kernel rounds what it is given (memory to pages, cpuunits to shares steps, a default weight
//! to "unset"), so a value read back can differ from the spec's while meaning the same thing. The
//! orchestrator compares specs with live values and cannot know each host's rounding; the node
//! can ([`super::effective`]). So each field that holds what the spec asks, after rounding, is
//! reported as the spec wrote it, and every other field as the kernel has it: real drift stays
//! visible, rounding never shows as drift.

use fleet_protocol::Resources;

use super::{CgroupVersion, cpuset, effective};

/// `live` with every field that matches `spec` (after the kernel's rounding) replaced by the
/// spec's own value.
pub fn in_spec_terms(live: Resources, spec: &Resources, version: CgroupVersion) -> Resources {
    let want = effective(spec, version, "");
    fn pick<T: PartialEq + Clone>(
        live: Option<T>,
        want: &Option<T>,
        spec: &Option<T>,
    ) -> Option<T> {
        if live == *want { spec.clone() } else { live }
    }
    let canonical = |c: &Option<String>| {
        c.as_deref()
            .map(|c| cpuset::canonical(c).unwrap_or_else(|_| c.to_owned()))
    };
    let cpus = if canonical(&live.cpus) == canonical(&want.cpus) {
        spec.cpus.clone()
    } else {
        live.cpus
    };
    let mut io = live.io;
    // The priority's weight read back as it was written is reported as the priority.
    if io.weight == want.io.weight {
        io.priority = spec.io.priority;
    }
    io.weight = pick(io.weight, &want.io.weight, &spec.io.weight);
    io.read_bps = pick(io.read_bps, &want.io.read_bps, &spec.io.read_bps);
    io.write_bps = pick(io.write_bps, &want.io.write_bps, &spec.io.write_bps);
    io.read_iops = pick(io.read_iops, &want.io.read_iops, &spec.io.read_iops);
    io.write_iops = pick(io.write_iops, &want.io.write_iops, &spec.io.write_iops);
    Resources {
        cpu_units: pick(live.cpu_units, &want.cpu_units, &spec.cpu_units),
        cpu_limit: pick(live.cpu_limit, &want.cpu_limit, &spec.cpu_limit),
        cpus,
        memory: pick(live.memory, &want.memory, &spec.memory),
        memory_high: pick(live.memory_high, &want.memory_high, &spec.memory_high),
        swap: pick(live.swap, &want.swap, &spec.swap),
        pids: pick(live.pids, &want.pids, &spec.pids),
        disk_space: pick(live.disk_space, &want.disk_space, &spec.disk_space),
        disk_inodes: pick(live.disk_inodes, &want.disk_inodes, &spec.disk_inodes),
        io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_reported_as_written_and_drift_as_found() {
        let spec = Resources {
            memory: Some(100_000_000),
            cpu_units: Some(1000),
            pids: Some(77),
            ..Resources::default()
        };
        // As the kernel holds it after applying the spec: memory in whole pages, the default
        // weight read back as unset.
        let live = Resources {
            memory: Some(100_000_000 / 4096 * 4096),
            cpu_units: None,
            pids: Some(77),
            ..Resources::default()
        };
        assert_eq!(in_spec_terms(live.clone(), &spec, CgroupVersion::V1), spec);
        // Changed by hand: shown as the kernel has it.
        let drifted = Resources {
            pids: Some(50),
            ..live
        };
        assert_eq!(
            in_spec_terms(drifted, &spec, CgroupVersion::V1).pids,
            Some(50)
        );
    }
}
