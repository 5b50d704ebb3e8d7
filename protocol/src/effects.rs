//! The table of field effects: for every field of a [`ContainerSpec`], how to tell that it
//! changed, how to show it, and what applying the change takes (live, a restart of init, or a
//! recreate). Both sides read this one table: the orchestrator's diff to sort a change into its
//! bucket and show it in the plan, `fleet-node`'s update to refuse a change it cannot make live
//! and to find limits changed by hand.
//!
//! An effect that depends on the host (growing a disk while it is mounted needs
//! CAP_SYS_RESOURCE) is decided from the node's [`Features`], which the orchestrator has from the
//! node's hello and the node detects itself, so the plan says what the node will do.
//!
//! Adding a field to [`ContainerSpec`] means adding one row to [`FIELDS`] (usually one
//! [`field!`](crate::field) line); rows are in the order the plan lists changed fields.

use serde::Serialize;

use crate::container::{ContainerSpec, NetworkMode, NetworkSpec, Resources};
use crate::message::Features;
use crate::units::format_size;

/// What applying a changed field takes. Ordered: a change takes its worst field's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Written while the container runs (cgroup files, online resize, metadata).
    Live,
    /// Needs the container's init restarted.
    Restart,
    /// Needs the container destroyed and created again (its data is lost).
    Recreate,
}

/// What one side compares: a container's spec, with the resource limits to compare taken apart
/// (the orchestrator compares the limits the kernel holds, see [`observed_resources`]; the node
/// its stored spec's).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The spec; its `resources` are not read by the table (see `resources`).
    pub spec: &'a ContainerSpec,
    /// The resource limits compared.
    pub resources: &'a Resources,
}

impl<'a> View<'a> {
    /// A spec compared with its own limits.
    pub fn of(spec: &'a ContainerSpec) -> Self {
        View {
            spec,
            resources: &spec.resources,
        }
    }
}

/// The effect of one changed field, and why when it depends on the values or the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// What applying it takes.
    pub effect: Effect,
    /// Why, when the field's effect is not always the same (`shrink`).
    pub why: Option<&'static str>,
}

/// One row of the table.
#[derive(Clone, Copy)]
pub struct FieldRule {
    /// The field as a fleet spec writes it (`disk.space`); the plan shows this name.
    pub name: &'static str,
    /// The field as [`ContainerSpec`] stores it (`resources.disk_space`); the node names it so
    /// in its errors, which also answer its own admin CLI.
    pub key: &'static str,
    /// Whether the field differs between the old and the new view.
    pub differs: fn(&View, &View) -> bool,
    /// The field's value as the plan shows it.
    pub show: fn(&View) -> String,
    /// What changing it from the old view (first) to the new one takes on a host with these
    /// features.
    pub effect: fn(&View, &View, &Features) -> Verdict,
    /// A cgroup limit the node reads back from the kernel and puts back when it was changed by
    /// hand while the spec stayed the same.
    pub drifts: bool,
}

impl FieldRule {
    /// The verdict on this field between `old` and `new`, or `None` when it did not change.
    pub fn check(&self, old: &View, new: &View, host: &Features) -> Option<Verdict> {
        (self.differs)(old, new).then(|| (self.effect)(old, new, host))
    }
}

impl std::fmt::Debug for FieldRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldRule")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("drifts", &self.drifts)
            .finish_non_exhaustive()
    }
}

/// One row of [`FIELDS`] for a field compared with `==`:
///
/// ```text
/// field!("memory" as "resources.memory" => resources.memory, show::size, live, drifts)
/// field!("command" => spec.command, show::json, restart)
/// ```
///
/// The spec's name for the field, then (after `as`) the `ContainerSpec` key when it differs
/// from the name, then the path read from a [`View`] (`spec.command`, or `resources.memory` for a
/// limit: the view's own limits), a function from a reference to the value to its text ([`show`]
/// has the usual ones), the effect (a function like [`live`] or [`disk_space`]), and `drifts`
/// for a cgroup limit the node reads back (see [`FieldRule::drifts`]).
#[macro_export]
macro_rules! field {
    ($name:literal => $($rest:tt)+) => {
        $crate::field!($name as $name => $($rest)+)
    };
    ($name:literal as $key:literal => $($path:ident).+, $show:expr, $effect:expr $(, $drifts:ident)?) => {
        $crate::effects::FieldRule {
            name: $name,
            key: $key,
            differs: |a, b| a.$($path).+ != b.$($path).+,
            show: |v| $show(&v.$($path).+),
            effect: $effect,
            drifts: $crate::field!(@drifts $($drifts)?),
        }
    };
    (@drifts drifts) => {
        true
    };
    (@drifts) => {
        false
    };
}

/// Every field, in the order the plan lists them. The run state (`state`) is not here: the
/// orchestrator turns it into start and stop, and the node into its own start or stop.
pub static FIELDS: &[FieldRule] = &[
    field!("template" => spec.template, show::template, recreate),
    field!("cpu.units" as "resources.cpu_units" => resources.cpu_units, show::plain, live, drifts),
    field!("cpu.limit" as "resources.cpu_limit" => resources.cpu_limit, show::percent, live, drifts),
    field!("cpu.cpus" as "resources.cpus" => resources.cpus, show::text, live, drifts),
    field!("memory" as "resources.memory" => resources.memory, show::size, live, drifts),
    field!("memory_high" as "resources.memory_high" => resources.memory_high, show::size, live, drifts),
    field!("swap" as "resources.swap" => resources.swap, show::size, live, drifts),
    field!("pids" as "resources.pids" => resources.pids, show::plain, live, drifts),
    field!("disk.space" as "resources.disk_space" => resources.disk_space, show::size, disk_space),
    field!("disk.inodes" as "resources.disk_inodes" => resources.disk_inodes, show::plain, restart),
    // The first content of the writable layer, copied once before the first start: a later
    // change is stored and copies nothing (the container's files are its own by then).
    field!("disk.from" => spec.disk.from, show::text, live),
    // The quota feature is switched on or off on the unmounted image (tune2fs) at the start;
    // on, the root moves onto the disk (see `user_quota`).
    field!("disk.user_quota" => spec.disk.user_quota, show::display, user_quota),
    field!("io.weight" as "resources.io.weight" => resources.io.weight, show::plain, live, drifts),
    // Written as the weight `ioprio` maps it to, where the host's scheduler reads weights.
    field!("io.priority" as "resources.io.priority" => resources.io.priority, show::plain, live, drifts),
    field!("io.read_bps" as "resources.io.read_bps" => resources.io.read_bps, show::size, live, drifts),
    field!("io.write_bps" as "resources.io.write_bps" => resources.io.write_bps, show::size, live, drifts),
    field!("io.read_iops" as "resources.io.read_iops" => resources.io.read_iops, show::plain, live, drifts),
    field!("io.write_iops" as "resources.io.write_iops" => resources.io.write_iops, show::plain, live, drifts),
    field!("command" => spec.command, show::json, restart),
    field!("env" => spec.env, show::json, restart),
    field!("hostname" => spec.hostname, show::display, restart),
    // Another mode or bridge is another attachment: a new veth in a new namespace.
    FieldRule {
        differs: |a, b| !same_attachment(&a.spec.network, &b.spec.network),
        ..field!("network" => spec.network, show::json, restart)
    },
    // Addresses and gateway change live on the same attachment's eth0.
    FieldRule {
        differs: |a, b| on_same_attachment(a, b, |n| &n.addresses),
        ..field!("network.addresses" => spec.network.addresses, show::json, live)
    },
    FieldRule {
        differs: |a, b| on_same_attachment(a, b, |n| &n.gateway),
        ..field!("network.gateway" => spec.network.gateway, show::json, live)
    },
    // The node shifts the writable layer's owners between host ids and the range at the start.
    field!("privileged" => spec.privileged, show::display, restart),
    FieldRule {
        differs: |a, b| {
            let (a, b) = (&a.spec.security, &b.spec.security);
            a.nesting != b.nesting || a.syscalls != b.syscalls
        },
        ..field!("security" => spec.security, show::json, restart)
    },
    // The device guard and the nodes in the container's /dev change live where the node can.
    field!("security.devices" => spec.security.devices, show::json, devices),
    // Another PID 1 is another process tree.
    field!("init" => spec.init, show::init, restart),
    field!("onboot" => spec.onboot, show::display, live),
    // The supervisor reads the policy from the stored spec when an init ends.
    field!("restart" => spec.restart, show::restart, live),
    field!("labels" => spec.labels, show::json, live),
];

/// The rows of the fields that differ between `old` and `new`, with their verdicts on a host
/// with `host`'s features, in table order.
pub fn changes<'a>(
    old: &'a View<'a>,
    new: &'a View<'a>,
    host: &'a Features,
) -> impl Iterator<Item = (&'static FieldRule, Verdict)> + 'a {
    FIELDS
        .iter()
        .filter_map(move |rule| Some((rule, rule.check(old, new, host)?)))
}

/// The limits a node reports as `live` merged with its stored spec: each limit as the kernel
/// holds it, or as stored where the node could not read it (reported unset), so that an
/// unreadable file does not look like drift on every run.
pub fn observed_resources(live: &Resources, stored: &Resources) -> Resources {
    fn seen<T: Clone>(live: &Option<T>, stored: &Option<T>) -> Option<T> {
        live.clone().or_else(|| stored.clone())
    }
    Resources {
        cpu_units: seen(&live.cpu_units, &stored.cpu_units),
        cpu_limit: seen(&live.cpu_limit, &stored.cpu_limit),
        cpus: seen(&live.cpus, &stored.cpus),
        memory: seen(&live.memory, &stored.memory),
        memory_high: seen(&live.memory_high, &stored.memory_high),
        swap: seen(&live.swap, &stored.swap),
        pids: seen(&live.pids, &stored.pids),
        disk_space: seen(&live.disk_space, &stored.disk_space),
        disk_inodes: seen(&live.disk_inodes, &stored.disk_inodes),
        io: crate::container::IoLimits {
            weight: seen(&live.io.weight, &stored.io.weight),
            read_bps: seen(&live.io.read_bps, &stored.io.read_bps),
            write_bps: seen(&live.io.write_bps, &stored.io.write_bps),
            read_iops: seen(&live.io.read_iops, &stored.io.read_iops),
            write_iops: seen(&live.io.write_iops, &stored.io.write_iops),
            priority: seen(&live.io.priority, &stored.io.priority),
        },
    }
}

/// Whether the part of the network that `part` picks differs while the attachment stays.
fn on_same_attachment<T: PartialEq>(a: &View, b: &View, part: fn(&NetworkSpec) -> &T) -> bool {
    let (a, b) = (&a.spec.network, &b.spec.network);
    same_attachment(a, b) && part(a) != part(b)
}

/// The bridge a bridged container joins when its spec names none.
pub const DEFAULT_BRIDGE: &str = "fleet0";

/// Whether two network specs are the same attachment (mode, and bridge when bridged), so that
/// only addresses and gateway differ and change live.
pub fn same_attachment(old: &NetworkSpec, new: &NetworkSpec) -> bool {
    let bridge = |s: &NetworkSpec| s.bridge.as_deref().unwrap_or(DEFAULT_BRIDGE).to_owned();
    old.mode == new.mode && (new.mode != NetworkMode::Bridged || bridge(old) == bridge(new))
}

/// Effect of a field that always changes live.
pub fn live(_: &View, _: &View, _: &Features) -> Verdict {
    Verdict {
        effect: Effect::Live,
        why: None,
    }
}

/// Effect of a field that always needs a restart.
pub fn restart(_: &View, _: &View, _: &Features) -> Verdict {
    Verdict {
        effect: Effect::Restart,
        why: None,
    }
}

/// Effect of a field that always needs a recreate.
pub fn recreate(_: &View, _: &View, _: &Features) -> Verdict {
    Verdict {
        effect: Effect::Recreate,
        why: None,
    }
}

/// Growing an ext4 image is an online resize where the node may do it (CAP_SYS_RESOURCE);
/// shrinking it, adding or removing the disk is not.
pub fn disk_space(old: &View, new: &View, host: &Features) -> Verdict {
    let restart = |why| Verdict {
        effect: Effect::Restart,
        why: Some(why),
    };
    match (old.resources.disk_space, new.resources.disk_space) {
        (Some(o), Some(n)) if n > o && host.online_disk_grow => Verdict {
            effect: Effect::Live,
            why: None,
        },
        (Some(o), Some(n)) if n > o => restart("grow: ext4 needs CAP_SYS_RESOURCE to grow live"),
        (Some(_), Some(_)) => restart("shrink"),
        _ => restart("add or remove the disk"),
    }
}

/// Quotas on: the root of a quota container is its disk alone, with the template copied in at
/// its first start (the quota tools need an ext4 at `/`), and a container that has run on an
/// overlay holds only its changes to the template: a new container. Off: a restart (the quota
/// feature is switched off; the root stays on the disk).
pub fn user_quota(old: &View, new: &View, _: &Features) -> Verdict {
    match (old.spec.disk.user_quota, new.spec.disk.user_quota) {
        (false, true) => Verdict {
            effect: Effect::Recreate,
            why: Some("on: the root moves onto the disk"),
        },
        _ => Verdict {
            effect: Effect::Restart,
            why: None,
        },
    }
}

/// Granting or taking back a device is live where the node can change the running group's
/// device guard ([`Features::devices_live`]), else a restart.
pub fn devices(_: &View, _: &View, host: &Features) -> Verdict {
    match host.devices_live {
        true => Verdict {
            effect: Effect::Live,
            why: None,
        },
        false => Verdict {
            effect: Effect::Restart,
            why: Some("no live device guard on this host"),
        },
    }
}

/// The texts the plan shows field values in.
pub mod show {
    use super::*;

    /// `unset`, for a limit that is not set.
    pub fn unset() -> String {
        "unset".to_owned()
    }

    /// A number as is.
    pub fn plain<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(unset, |v| v.to_string())
    }

    /// A size in bytes: `512Mi`.
    pub fn size(v: &Option<u64>) -> String {
        v.map_or_else(unset, format_size)
    }

    /// A percent of one CPU: `150%`.
    pub fn percent(v: &Option<u32>) -> String {
        v.map_or_else(unset, |v| format!("{v}%"))
    }

    /// Text as is.
    pub fn text(v: &Option<String>) -> String {
        v.clone().unwrap_or_else(unset)
    }

    /// A value that is always set, as it displays.
    pub fn display<T: std::fmt::Display>(v: &T) -> String {
        v.to_string()
    }

    /// A value as JSON (argv lists, maps, the network).
    pub fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_else(|e| format!("<{e}>"))
    }

    /// A template by its short name.
    pub fn template(v: &crate::container::TemplateRef) -> String {
        v.display_name().to_owned()
    }

    /// A restart policy as the spec writes it (`on-failure (max 5)`).
    pub fn restart(v: &crate::restart::RestartSpec) -> String {
        v.show()
    }

    /// An init mode as the spec writes it.
    pub fn init(v: &crate::container::InitMode) -> String {
        v.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests;
