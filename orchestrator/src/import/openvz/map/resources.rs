//! The limits: memory and swap (VSwap's PHYSPAGES and SWAPPAGES, or the old UBC PRIVVMPAGES),
//! tasks, CPU, disk and I/O, converted exactly (4 KiB pages, 1 KiB blocks, bytes; the hard
//! limit is the limit) and raised or lowered into Fleet's ranges with a warning where they fall
//! outside.

use fleet_protocol::units::format_size;

use super::super::values::{self, Amount, Unit};
use super::Mapper;
use super::shown;

/// Smallest memory limit Fleet sets.
const MEMORY_MIN: u64 = 4 << 20;
/// Smallest disk.
const DISK_MIN: u64 = 16 << 20;
/// Fleet's `pids` with no ceiling of its own.
const PIDS_MAX: u64 = 4_194_304;

/// memory and swap.
pub(super) fn memory(m: &mut Mapper) {
    let phys = m.pair("PHYSPAGES", Unit::Pages);
    let privvm = m.pair("PRIVVMPAGES", Unit::Pages);
    match (phys, privvm) {
        (Some((p, s)), privvm) if p.limit != Amount::Unlimited => {
            let note = format!(
                "{} ({}; the limit)",
                shown("PHYSPAGES", s),
                units(s, "4 KiB pages")
            );
            memory_from(m, "PHYSPAGES", s, &p, note);
            if let Some((_, s)) = privvm {
                m.skip(
                    "PRIVVMPAGES",
                    s,
                    "allocated memory: a VSwap config limits what is used (PHYSPAGES) instead",
                );
            }
        }
        (phys, Some((p, s))) if p.limit != Amount::Unlimited => {
            let note = format!(
                "{} (old UBC config: allocated memory, a generous limit on what is used)",
                shown("PRIVVMPAGES", s)
            );
            memory_from(m, "PRIVVMPAGES", s, &p, note);
            if let Some((_, s)) = phys {
                m.notes.push(format!(
                    "{}: unlimited, so memory comes from PRIVVMPAGES",
                    shown("PHYSPAGES", s)
                ));
            }
        }
        (phys, privvm) => {
            let said: Vec<String> = [("PHYSPAGES", phys), ("PRIVVMPAGES", privvm)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|(_, s)| shown(k, s)))
                .collect();
            if !said.is_empty() {
                m.notes
                    .push(format!("memory: unlimited ({})", said.join(", ")));
            }
        }
    }
    if let Some((p, s)) = m.pair("SWAPPAGES", Unit::Pages) {
        match p.limit.value() {
            Some(bytes) => m.field(
                "resources.swap",
                format_size(bytes),
                format!("{} ({})", shown("SWAPPAGES", s), units(s, "4 KiB pages")),
            ),
            None => m
                .notes
                .push(format!("swap: unlimited ({})", shown("SWAPPAGES", s))),
        }
    }
    match m.pair("NUMPROC", Unit::Count) {
        Some((p, s)) => match p.limit.value() {
            Some(0) => m.invalid(
                "NUMPROC",
                s,
                "a limit of 0 tasks lets nothing run".into(),
                "give the most processes and threads the container may have".into(),
            ),
            Some(n) => {
                let n = lower(m, "NUMPROC", s, n, PIDS_MAX, "pids");
                m.field("resources.pids", n.to_string(), shown("NUMPROC", s));
            }
            None => m.field(
                "resources.pids",
                PIDS_MAX.to_string(),
                format!("{}: Fleet's value for no ceiling (unset would be 4096)", shown("NUMPROC", s)),
            ),
        },
        None => m
            .notes
            .push("pids: NUMPROC is not set (unlimited in OpenVZ); Fleet's default ceiling of 4096 tasks applies".into()),
    }
}

/// cpu.units, cpu.limit (from CPULIMIT and CPUS), cpu.cpus (from CPUMASK).
pub(super) fn cpu(m: &mut Mapper) {
    if let Some(s) = m.take("CPUUNITS") {
        match s.value.trim().parse::<u64>() {
            Ok(n) => {
                let n = raise(m, "CPUUNITS", s, n, 8, "cpu.units");
                let n = lower(m, "CPUUNITS", s, n, 500_000, "cpu.units");
                m.field("resources.cpu.units", n.to_string(), shown("CPUUNITS", s));
            }
            Err(_) => m.invalid(
                "CPUUNITS",
                s,
                format!("invalid value {:?}", s.value),
                "give a whole number from 8 to 500000 (1000 is OpenVZ's default)".into(),
            ),
        }
    }
    let mut limit: Option<(u64, String)> = None;
    if let Some(s) = m.take("CPULIMIT") {
        let text = s.value.trim();
        if text.ends_with(['m', 'M']) {
            m.invalid(
                "CPULIMIT",
                s,
                format!("{text:?} is in MHz, which depends on the old host's CPUs"),
                "give cpu.limit in percent of one CPU (100% is one CPU)".into(),
            );
        } else {
            match text.trim_end_matches('%').parse::<u64>() {
                Ok(0) => m
                    .notes
                    .push(format!("cpu.limit: unlimited ({})", shown("CPULIMIT", s))),
                Ok(n) => {
                    limit = Some((n, format!("{} (percent of one CPU)", shown("CPULIMIT", s))))
                }
                Err(_) => m.invalid(
                    "CPULIMIT",
                    s,
                    format!("invalid value {text:?}"),
                    "give a whole percent of one CPU (150 is one and a half), or 0 for none".into(),
                ),
            }
        }
    }
    if let Some(s) = m.take("CPUS") {
        match s.value.trim().parse::<u64>() {
            Ok(0) => {}
            Ok(n) => {
                let cap = n * 100;
                let note = format!(
                    "{}: {n} CPUs' worth of time (Fleet's cpu.cpus is a set, not a count)",
                    shown("CPUS", s)
                );
                limit = match limit {
                    Some((l, why)) if l <= cap => Some((l, format!("{why}; {note} is more"))),
                    Some((_, why)) => Some((cap, format!("{note}; {why} is more"))),
                    None => Some((cap, note)),
                };
            }
            Err(_) => m.invalid(
                "CPUS",
                s,
                format!("invalid value {:?}", s.value),
                "give the number of CPUs, or 0 for all".into(),
            ),
        }
    }
    if let Some((percent, note)) = limit {
        let s = m
            .input
            .settings
            .get("CPULIMIT")
            .or(m.input.settings.get("CPUS"));
        let percent = match s {
            Some(s) => lower(m, "CPULIMIT", s, percent, 102_400, "cpu.limit"),
            None => percent,
        };
        m.field("resources.cpu.limit", format!("{percent}%"), note);
    }
    if let Some(s) = m.take("CPUMASK") {
        let text = s.value.trim();
        if text != "all" {
            if cpuset_ok(text) {
                m.field(
                    "resources.cpu.cpus",
                    super::super::yaml::scalar(text),
                    shown("CPUMASK", s),
                );
            } else {
                m.invalid(
                    "CPUMASK",
                    s,
                    format!("invalid CPU list {text:?}"),
                    "write CPU numbers and ranges, such as 0-3,6, or all".into(),
                );
            }
        }
    }
}

/// A cpuset list such as `0-3,6`.
fn cpuset_ok(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').all(|part| {
            let mut ends = part.splitn(2, '-').map(|n| n.trim().parse::<u32>());
            match (ends.next(), ends.next()) {
                (Some(Ok(_)), None) => true,
                (Some(Ok(a)), Some(Ok(b))) => a <= b,
                _ => false,
            }
        })
}

/// disk.space and disk.inodes, from the hard limits of DISKSPACE and DISKINODES, and
/// disk.user_quota from a QUOTAUGIDLIMIT other than 0.
pub(super) fn disk(m: &mut Mapper) {
    let mut space = None;
    if let Some((p, s)) = m.pair("DISKSPACE", Unit::KiBlocks) {
        match p.limit.value() {
            Some(bytes) => {
                let bytes = raise(m, "DISKSPACE", s, bytes, DISK_MIN, "disk.space");
                space = Some(bytes);
                m.field(
                    "resources.disk.space",
                    format_size(bytes),
                    format!(
                        "{} ({}; the hard limit. ext4's own metadata takes a few percent of it)",
                        shown("DISKSPACE", s),
                        units(s, "1 KiB blocks")
                    ),
                );
            }
            None => m.notes.push(format!(
                "disk: unlimited ({}): the container writes into the node's store, with no disk of its own",
                shown("DISKSPACE", s)
            )),
        }
    }
    if let Some((p, s)) = m.pair("DISKINODES", Unit::Count) {
        match (p.limit.value(), space) {
            (Some(n), Some(space)) => {
                let n = raise(m, "DISKINODES", s, n, 64, "disk.inodes");
                let n = lower(
                    m,
                    "DISKINODES",
                    s,
                    n,
                    (space / 1024).min(u32::MAX.into()),
                    "disk.inodes (one per KiB of disk.space at most)",
                );
                m.field(
                    "resources.disk.inodes",
                    n.to_string(),
                    shown("DISKINODES", s),
                );
            }
            (Some(_), None) => m.skip(
                "DISKINODES",
                s,
                "inodes are a property of the container's disk, and DISKSPACE gives it none",
            ),
            (None, _) => {}
        }
    }
    if let Some(s) = m.take("QUOTAUGIDLIMIT") {
        match (s.value.trim().parse::<u64>(), space) {
            // vzctl's "off".
            (Ok(0), _) => {}
            (Ok(_), Some(_)) => m.field(
                "resources.disk.user_quota",
                "true",
                format!(
                    "{} (how many ids may have quotas; Fleet counts none: container root sets \
                     them with setquota on /)",
                    shown("QUOTAUGIDLIMIT", s)
                ),
            ),
            (Ok(_), None) => m.skip(
                "QUOTAUGIDLIMIT",
                s,
                "second-level quotas live on the container's own disk, and DISKSPACE gives it none",
            ),
            (Err(_), _) => m.invalid(
                "QUOTAUGIDLIMIT",
                s,
                format!("{:?} is not a number", s.value),
                "write QUOTAUGIDLIMIT=\"N\", how many uids and gids may have quotas (0 turns them \
                 off)"
                    .into(),
            ),
        }
    }
}

/// io.priority (IOPRIO, which the node writes as a weight through `fleet_protocol::ioprio`),
/// bandwidth and IOPS caps.
pub(super) fn io(m: &mut Mapper) {
    if let Some(s) = m.take("IOPRIO") {
        match s
            .value
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(|p| fleet_protocol::ioprio::weight(p).map(|w| (p, w)))
        {
            Some((p, w)) => m.field(
                "resources.io.priority",
                p.to_string(),
                format!(
                    "{} (io.weight {w}, OpenVZ's blkio weight {}; fleet_protocol::ioprio)",
                    shown("IOPRIO", s),
                    fleet_protocol::ioprio::OPENVZ_BLKIO_WEIGHT[usize::from(p)]
                ),
            ),
            None => m.invalid(
                "IOPRIO",
                s,
                format!("invalid priority {:?}", s.value),
                "OpenVZ's I/O priorities are 0 to 7 (4 is the default)".into(),
            ),
        }
    }
    if let Some(s) = m.take("IOLIMIT") {
        match values::amount(&s.value, Unit::Bytes) {
            Ok(Amount::Value(0) | Amount::Unlimited) => {}
            Ok(Amount::Value(bps)) => {
                let note = format!(
                    "{} (bytes per second; OpenVZ caps reads and writes together, Fleet each)",
                    shown("IOLIMIT", s)
                );
                m.field("resources.io.read_bps", format_size(bps), note.clone());
                m.field("resources.io.write_bps", format_size(bps), note);
            }
            Err(e) => m.invalid(
                "IOLIMIT",
                s,
                e,
                "give bytes per second (a suffix K, M or G is allowed), or 0 for none".into(),
            ),
        }
    }
    if let Some(s) = m.take("IOPSLIMIT") {
        match s.value.trim().parse::<u64>() {
            Ok(0) => {}
            Ok(n) => {
                let n = lower(m, "IOPSLIMIT", s, n, u32::MAX.into(), "io.read_iops");
                let note = format!(
                    "{} (OpenVZ caps reads and writes together, Fleet each)",
                    shown("IOPSLIMIT", s)
                );
                m.field("resources.io.read_iops", n.to_string(), note.clone());
                m.field("resources.io.write_iops", n.to_string(), note);
            }
            Err(_) => m.invalid(
                "IOPSLIMIT",
                s,
                format!("invalid value {:?}", s.value),
                "give operations per second, or 0 for none".into(),
            ),
        }
    }
}

/// The unit a setting was read in, for its comment: `plain` for a bare number, else the
/// suffix's (a value such as `512M` is in bytes whatever the parameter's own unit).
/// `resources.memory` from `key`'s limit, raised to Fleet's smallest, with `note` saying where
/// it came from.
fn memory_from(m: &mut Mapper, key: &str, s: &super::Setting, pair: &values::Pair, note: String) {
    let bytes = raise(
        m,
        key,
        s,
        pair.limit.value().unwrap_or(0),
        MEMORY_MIN,
        "memory",
    );
    m.field("resources.memory", format_size(bytes), note);
}

fn units(s: &super::Setting, plain: &'static str) -> &'static str {
    let suffixed = s.value.split(':').map(str::trim).any(|part| {
        !part.eq_ignore_ascii_case("unlimited") && part.ends_with(|c: char| c.is_ascii_alphabetic())
    });
    if suffixed {
        "size suffixes, powers of 1024"
    } else {
        plain
    }
}

/// `value` raised to `min` (with a warning) when below it.
fn raise(m: &mut Mapper, key: &str, s: &super::Setting, value: u64, min: u64, field: &str) -> u64 {
    if value >= min {
        return value;
    }
    let show = |v: u64| {
        if field.starts_with("memory") || field.starts_with("disk.space") {
            format_size(v)
        } else {
            v.to_string()
        }
    };
    m.adjusted(
        key,
        s,
        format!(
            "{} is below the smallest {field} Fleet sets; imported as {}",
            show(value),
            show(min)
        ),
    );
    min
}

/// `value` lowered to `max` (with a warning) when above it.
fn lower(m: &mut Mapper, key: &str, s: &super::Setting, value: u64, max: u64, field: &str) -> u64 {
    if value <= max {
        return value;
    }
    m.adjusted(
        key,
        s,
        format!("{value} is above the largest {field} Fleet sets; imported as {max}"),
    );
    max
}
