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

/// The fields of `io:`.
const IO_FIELDS: &[&str] = &[
    "weight",
    "priority",
    "read_bps",
    "write_bps",
    "read_iops",
    "write_iops",
];

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
        memory: f.size("memory", 4 << 20, d),
        memory_high: f.size("memory_high", 4 << 20, d),
        swap: f.size("swap", 0, d),
        pids: f.uint::<u64>("pids", 1, 4_194_304, d),
        ..RawResources::default()
    };
    if let Some(c) = f.nested("cpu", &["units", "limit", "cpus"], d) {
        r.cpu_units = c.uint::<u32>("units", 8, 500_000, d);
        r.cpu_limit = c.read("limit", d, |n, field, d| {
            fields::percent(n, field, 1, 102_400, d)
        });
        r.cpus = c.get("cpus").and_then(|n| cpuset(n, d));
    }
    if let Some(c) = f.nested("disk", &["space", "inodes", "from", "user_quota"], d) {
        r.disk_space = c.size("space", 16 << 20, d);
        r.disk_inodes = c.uint::<u64>("inodes", 64, u32::MAX.into(), d);
        r.disk_from = c.get("from").and_then(|n| disk_from(n, d));
        r.disk_user_quota = c.read("user_quota", d, |n, field, d| {
            fields::boolean(n, field, d).map(|b| At::new(n.pos, b))
        });
    }
    if let Some(c) = f.nested("io", IO_FIELDS, d) {
        r.io_weight = c.uint::<u16>("weight", 1, 10_000, d);
        r.io_priority = c.uint::<u8>("priority", 0, fleet_protocol::ioprio::MAX.into(), d);
        r.io_read_bps = c.size("read_bps", 1, d);
        r.io_write_bps = c.size("write_bps", 1, d);
        r.io_read_iops = c.uint::<u64>("read_iops", 1, u32::MAX.into(), d);
        r.io_write_iops = c.uint::<u64>("write_iops", 1, u32::MAX.into(), d);
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
