//! Field-by-field comparison of one container's desired spec with what a node reports, and the
//! rule for each field: changeable live, only with a restart, or only by recreating.
//!
//! Used by [`super::diff`]; the plan renders the [`FieldDiff`]s it produces. Resource limits are
//! compared against the live values the node read from the kernel, so a limit changed by hand on a
//! host shows as drift; a field the node could not read (reported as unset while its stored spec
//! has a value) falls back to the stored spec, so an unreadable file does not look like drift on
//! every run.

use fleet_protocol::units::format_size;
use fleet_protocol::{ContainerSpec, ContainerStatus, NetworkSpec, Resources};
use serde::Serialize;

/// How a changed field can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Written while the container runs (cgroup files, online resize, metadata).
    Live,
    /// Needs the container's init restarted.
    Restart,
    /// Needs the container destroyed and created again (its data is lost).
    Recreate,
}

/// One field that differs: `memory: 256Mi -> 512Mi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// Field name as written in the spec (`memory`, `cpu.limit`, `command`).
    pub field: String,
    /// Value found on the host.
    pub old: String,
    /// Value the spec wants.
    pub new: String,
    /// What applying it takes.
    pub effect: Effect,
}

/// Every field of `desired` that differs from `observed`, in a fixed order. The run state is not
/// a field here: the caller turns it into start and stop.
pub fn compare(desired: &ContainerSpec, observed: &ContainerStatus) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let stored = &observed.spec;
    if desired.template != stored.template {
        push(
            &mut out,
            "template",
            template_text(stored),
            template_text(desired),
            Effect::Recreate,
        );
    }
    compare_resources(
        &desired.resources,
        &stored.resources,
        &observed.live,
        &mut out,
    );
    if desired.command != stored.command {
        push(
            &mut out,
            "command",
            json(&stored.command),
            json(&desired.command),
            Effect::Restart,
        );
    }
    if desired.env != stored.env {
        push(
            &mut out,
            "env",
            json(&stored.env),
            json(&desired.env),
            Effect::Restart,
        );
    }
    if desired.hostname != stored.hostname {
        push(
            &mut out,
            "hostname",
            stored.hostname.clone(),
            desired.hostname.clone(),
            Effect::Restart,
        );
    }
    compare_network(&desired.network, &stored.network, &mut out);
    if desired.user_namespace != stored.user_namespace {
        push(
            &mut out,
            "user_namespace",
            stored.user_namespace.to_string(),
            desired.user_namespace.to_string(),
            Effect::Restart,
        );
    }
    if desired.onboot != stored.onboot {
        push(
            &mut out,
            "onboot",
            stored.onboot.to_string(),
            desired.onboot.to_string(),
            Effect::Live,
        );
    }
    if desired.labels != stored.labels {
        push(
            &mut out,
            "labels",
            json(&stored.labels),
            json(&desired.labels),
            Effect::Live,
        );
    }
    out
}

/// Addresses and gateway change live on the container's eth0; another mode or bridge means
/// another network attachment, which needs a restart (as the node's `network::needs_restart`).
fn compare_network(want: &NetworkSpec, stored: &NetworkSpec, out: &mut Vec<FieldDiff>) {
    if want.mode != stored.mode || want.bridge != stored.bridge {
        push(out, "network", json(stored), json(want), Effect::Restart);
        return;
    }
    if want.addresses != stored.addresses {
        push(
            out,
            "network.addresses",
            json(&stored.addresses),
            json(&want.addresses),
            Effect::Live,
        );
    }
    if want.gateway != stored.gateway {
        push(
            out,
            "network.gateway",
            json(&stored.gateway),
            json(&want.gateway),
            Effect::Live,
        );
    }
}

fn compare_resources(
    want: &Resources,
    stored: &Resources,
    live: &Resources,
    out: &mut Vec<FieldDiff>,
) {
    // The observed value of a limit: what the kernel holds, or the stored spec when the node
    // could not read it.
    fn seen<T: Clone>(live: &Option<T>, stored: &Option<T>) -> Option<T> {
        live.clone().or_else(|| stored.clone())
    }
    let plain = |v: Option<u64>| v.map_or_else(unset, |v| v.to_string());
    let size = |v: Option<u64>| v.map_or_else(unset, format_size);
    let u32s = |v: Option<u32>| v.map_or_else(unset, |v| v.to_string());

    let cpu_units = seen(&live.cpu_units, &stored.cpu_units);
    if want.cpu_units != cpu_units {
        push(
            out,
            "cpu.units",
            u32s(cpu_units),
            u32s(want.cpu_units),
            Effect::Live,
        );
    }
    let cpu_limit = seen(&live.cpu_limit, &stored.cpu_limit);
    if want.cpu_limit != cpu_limit {
        let pct = |v: Option<u32>| v.map_or_else(unset, |v| format!("{v}%"));
        push(
            out,
            "cpu.limit",
            pct(cpu_limit),
            pct(want.cpu_limit),
            Effect::Live,
        );
    }
    let cpus = seen(&live.cpus, &stored.cpus);
    if want.cpus != cpus {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(unset);
        push(out, "cpu.cpus", text(&cpus), text(&want.cpus), Effect::Live);
    }
    let memory = seen(&live.memory, &stored.memory);
    if want.memory != memory {
        push(out, "memory", size(memory), size(want.memory), Effect::Live);
    }
    let swap = seen(&live.swap, &stored.swap);
    if want.swap != swap {
        push(out, "swap", size(swap), size(want.swap), Effect::Live);
    }
    let pids = seen(&live.pids, &stored.pids);
    if want.pids != pids {
        push(out, "pids", plain(pids), plain(want.pids), Effect::Live);
    }
    let disk = seen(&live.disk_space, &stored.disk_space);
    if want.disk_space != disk {
        // Growing an ext4 image is an online resize; shrinking it is not.
        let effect = match (disk, want.disk_space) {
            (Some(old), Some(new)) if new > old => Effect::Live,
            _ => Effect::Restart,
        };
        push(out, "disk.space", size(disk), size(want.disk_space), effect);
    }
    let inodes = seen(&live.disk_inodes, &stored.disk_inodes);
    if want.disk_inodes != inodes {
        push(
            out,
            "disk.inodes",
            plain(inodes),
            plain(want.disk_inodes),
            Effect::Restart,
        );
    }
    // (field, wanted, stored, live)
    type IoField<'a> = (&'a str, Option<u64>, Option<u64>, Option<u64>);
    let io_fields: [IoField; 5] = [
        (
            "io.weight",
            want.io.weight.map(u64::from),
            stored.io.weight.map(u64::from),
            live.io.weight.map(u64::from),
        ),
        (
            "io.read_bps",
            want.io.read_bps,
            stored.io.read_bps,
            live.io.read_bps,
        ),
        (
            "io.write_bps",
            want.io.write_bps,
            stored.io.write_bps,
            live.io.write_bps,
        ),
        (
            "io.read_iops",
            want.io.read_iops,
            stored.io.read_iops,
            live.io.read_iops,
        ),
        (
            "io.write_iops",
            want.io.write_iops,
            stored.io.write_iops,
            live.io.write_iops,
        ),
    ];
    for (field, want, stored, live) in io_fields {
        let old = seen(&live, &stored);
        if want != old {
            let text = if field.ends_with("bps") { size } else { plain };
            push(out, field, text(old), text(want), Effect::Live);
        }
    }
}

fn push(out: &mut Vec<FieldDiff>, field: &str, old: String, new: String, effect: Effect) {
    out.push(FieldDiff {
        field: field.to_string(),
        old,
        new,
        effect,
    });
}

fn unset() -> String {
    "unset".to_string()
}

fn template_text(spec: &ContainerSpec) -> String {
    spec.template.display_name().to_string()
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}
