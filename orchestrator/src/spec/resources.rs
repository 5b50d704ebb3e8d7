//! The resource fields (`cpu`, `memory`, `memory_high`, `swap`, `pids`, `disk`, `io`), written
//! the same way in a profile and in a container's `resources:`: each value's unit and range
//! checked, `disk.from` and `cpu.cpus` checked for shape, `disk.user_quota` a boolean.

use super::diagnostic::{Diagnostic, Diagnostics};
use super::fields::{self, Fields};
use super::node::Node;
use super::raw::{At, RawResources};

/// Resource fields, shared by profiles and containers' `resources`.
pub const RESOURCE_FIELDS: &[&str] =
    &["cpu", "memory", "memory_high", "swap", "pids", "disk", "io"];

/// Decodes a `resources:` mapping.
pub fn resources(node: &Node, d: &mut Diagnostics) -> RawResources {
    match Fields::open(node, "resources", RESOURCE_FIELDS, d) {
        Some(f) => resources_from(&f, d),
        None => RawResources::default(),
    }
}

/// Decodes the resource fields of an opened mapping: a profile's own, or a `resources:` one.
pub fn resources_from(f: &Fields<'_>, d: &mut Diagnostics) -> RawResources {
    let mut r = RawResources {
        memory: f
            .get("memory")
            .and_then(|n| fields::size(n, "memory", 4 << 20, d)),
        memory_high: f
            .get("memory_high")
            .and_then(|n| fields::size(n, "memory_high", 4 << 20, d)),
        swap: f.get("swap").and_then(|n| fields::size(n, "swap", 0, d)),
        pids: f
            .get("pids")
            .and_then(|n| fields::uint::<u64>(n, "pids", 1, 4_194_304, d)),
        ..RawResources::default()
    };
    if let Some(cpu) = f.get("cpu")
        && let Some(c) = Fields::open(cpu, "cpu", &["units", "limit", "cpus"], d)
    {
        r.cpu_units = c
            .get("units")
            .and_then(|n| fields::uint::<u32>(n, "cpu.units", 8, 500_000, d));
        r.cpu_limit = c
            .get("limit")
            .and_then(|n| fields::percent(n, "cpu.limit", 1, 102_400, d));
        r.cpus = c.get("cpus").and_then(|n| cpuset(n, d));
    }
    if let Some(disk) = f.get("disk")
        && let Some(c) = Fields::open(disk, "disk", &["space", "inodes", "from", "user_quota"], d)
    {
        r.disk_space = c
            .get("space")
            .and_then(|n| fields::size(n, "disk.space", 16 << 20, d));
        r.disk_inodes = c
            .get("inodes")
            .and_then(|n| fields::uint::<u64>(n, "disk.inodes", 64, u32::MAX.into(), d));
        r.disk_from = c.get("from").and_then(|n| disk_from(n, d));
        r.disk_user_quota = c
            .get("user_quota")
            .and_then(|n| fields::boolean(n, "disk.user_quota", d).map(|b| At::new(n.pos, b)));
    }
    if let Some(io) = f.get("io")
        && let Some(c) = Fields::open(
            io,
            "io",
            &[
                "weight",
                "priority",
                "read_bps",
                "write_bps",
                "read_iops",
                "write_iops",
            ],
            d,
        )
    {
        r.io_weight = c
            .get("weight")
            .and_then(|n| fields::uint::<u16>(n, "io.weight", 1, 10_000, d));
        r.io_priority = c.get("priority").and_then(|n| {
            fields::uint::<u8>(n, "io.priority", 0, fleet_protocol::ioprio::MAX.into(), d)
        });
        r.io_read_bps = c
            .get("read_bps")
            .and_then(|n| fields::size(n, "io.read_bps", 1, d));
        r.io_write_bps = c
            .get("write_bps")
            .and_then(|n| fields::size(n, "io.write_bps", 1, d));
        let iops = |key: &str, d: &mut Diagnostics| {
            c.get(key)
                .and_then(|n| fields::uint::<u64>(n, &format!("io.{key}"), 1, u32::MAX.into(), d))
        };
        r.io_read_iops = iops("read_iops", d);
        r.io_write_iops = iops("write_iops", d);
    }
    r
}

/// `disk.from`: an absolute path on the host, without `..` (the node copies from it as is).
fn disk_from(node: &Node, d: &mut Diagnostics) -> Option<At<String>> {
    let t = fields::text(node, "disk.from", d)?;
    let path = std::path::Path::new(&t.value);
    let dotdot = path
        .components()
        .any(|c| c == std::path::Component::ParentDir);
    if !path.is_absolute() || dotdot || t.value.contains('\0') {
        d.push(
            Diagnostic::at(node.pos, format!("invalid disk.from \"{}\"", t.value)).hint(
                "give the absolute path of a directory on the host, such as /vz/private/101, \
                 without \"..\"",
            ),
        );
        return None;
    }
    Some(t)
}

/// A cpuset list such as `0-3,6`.
fn cpuset(node: &Node, d: &mut Diagnostics) -> Option<At<String>> {
    let t = fields::text(node, "cpu.cpus", d)?;
    let valid = !t.value.is_empty()
        && t.value.split(',').all(|part| {
            let mut ends = part.splitn(2, '-').map(|n| n.trim().parse::<u32>());
            match (ends.next(), ends.next()) {
                (Some(Ok(_)), None) => true,
                (Some(Ok(a)), Some(Ok(b))) => a <= b,
                _ => false,
            }
        });
    if valid {
        Some(t)
    } else {
        d.push(
            Diagnostic::at(node.pos, format!("invalid cpu.cpus \"{}\"", t.value))
                .hint("write a list of CPU numbers and ranges, such as \"0-3,6\""),
        );
        None
    }
}
