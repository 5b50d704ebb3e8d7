//! What every member of one container entry shares ([`Base`]): the template reference resolved,
//! profile and own resources merged and checked, the command, the disk's first content. Built
//! once per entry by `containers`, read by `member` for each member's spec.

use fleet_protocol::units::format_size;
use fleet_protocol::{DiskSpec, IoLimits, Resources, TemplateRef};

use crate::spec::raw::{At, RawContainer, RawResources};
use crate::spec::suggest::{Suggester, closest};
use crate::spec::{Diagnostic, Diagnostics};

use super::definitions::Definitions;
use super::{node_rules, profiles};

/// What every member of a container entry shares: template, merged resources, command.
pub struct Base {
    /// The template.
    pub template: TemplateRef,
    /// Profile and own resources merged.
    pub resources: Resources,
    /// The init's argv.
    pub command: Vec<String>,
    /// The disk's first content.
    pub disk: DiskSpec,
}

/// The shared part of the entry `raw`: template and profile looked up (an unknown one, or a
/// missing template or command, reported into `d`), resources merged and checked. `None` when
/// the template cannot be resolved.
pub fn container_base(
    raw: &RawContainer,
    defs: &Definitions<'_>,
    host_names: &mut Suggester<'_>,
    d: &mut Diagnostics,
) -> Option<Base> {
    let (templates, profiles, hosts) = (&defs.templates, &defs.profiles, &defs.hosts);
    let what = raw.name.as_ref().map_or("container".to_string(), |n| {
        format!("container \"{}\"", n.value)
    });
    let template = match &raw.template {
        None => {
            d.push(
                Diagnostic::at(raw.pos, format!("{what} has no template")).hint(
                    "set `template:` to host, busybox or a template defined under `templates:`",
                ),
            );
            None
        }
        Some(t) => match t.value.as_str() {
            "host" => Some(TemplateRef::Host),
            "busybox" => Some(TemplateRef::Busybox),
            other => match templates.get(other) {
                Some(def) => Some(TemplateRef::Tarball {
                    name: other.to_string(),
                    path: def
                        .tarball
                        .as_ref()
                        .map(|p| p.value.clone())
                        .unwrap_or_default(),
                    sha256: def
                        .sha256
                        .as_ref()
                        .map(|s| s.value.to_lowercase())
                        .unwrap_or_default(),
                }),
                None => {
                    let names = ["host", "busybox"]
                        .into_iter()
                        .chain(templates.keys().map(String::as_str));
                    let mut diag = Diagnostic::at(t.pos, format!("unknown template \"{other}\""));
                    diag = match closest(other, names.clone()) {
                        Some(s) => diag.hint(format!("did you mean \"{s}\"?")),
                        None => diag.hint(format!(
                            "known templates: {}",
                            names.collect::<Vec<_>>().join(", ")
                        )),
                    };
                    d.push(diag);
                    None
                }
            },
        },
    };
    let mut merged = RawResources::default();
    if let Some(p) = &raw.profile {
        match profiles.get(&p.value) {
            Some(r) => merged.overlay(r),
            None => profiles::unknown_profile(p, profiles, d),
        }
    }
    merged.overlay(&raw.resources);
    let resources = checked_resources(&merged, d);
    node_rules::disk(raw, &merged, d);
    node_rules::user_quota(&merged, d);
    if let Some(h) = &raw.host
        && !hosts.contains_key(&h.value)
    {
        let mut diag = Diagnostic::at(h.pos, format!("unknown host \"{}\"", h.value));
        if let Some(s) = host_names.closest(&h.value) {
            diag = diag.hint(format!("did you mean \"{s}\"?"));
        }
        d.push(diag);
    }
    let command = match &raw.command {
        Some(c) => c.value.clone(),
        None => {
            d.push(
                Diagnostic::at(raw.pos, format!("{what} has no command")).hint(
                    "set `command:` to the init's argv, such as [\"/bin/sleep\", \"infinity\"]",
                ),
            );
            Vec::new()
        }
    };
    Some(Base {
        template: template?,
        resources,
        command,
        disk: DiskSpec {
            from: merged.disk_from.as_ref().map(|f| f.value.clone()),
            user_quota: merged.disk_user_quota.as_ref().is_some_and(|q| q.value),
        },
    })
}

/// `merged` (a profile's resources, or a container's merged with its profile's) as the spec's
/// `Resources`, with the rules between its fields checked into `d`.
pub fn checked_resources(merged: &RawResources, d: &mut Diagnostics) -> Resources {
    check_memory_high(merged, d);
    check_io_priority(merged, d);
    resources(merged)
}

/// `memory_high` is a soft limit below the hard one: above `memory` it could never be reached.
fn check_memory_high(r: &RawResources, d: &mut Diagnostics) {
    if let (Some(high), Some(max)) = (&r.memory_high, &r.memory)
        && high.value > max.value
    {
        d.push(
            Diagnostic::at(
                high.pos,
                format!(
                    "memory_high {} is above memory {}",
                    format_size(high.value),
                    format_size(max.value)
                ),
            )
            .hint("memory_high is the soft limit the kernel throttles at; valid is at most memory"),
        );
    }
}

/// `io.priority` is OpenVZ's spelling of `io.weight`: one entry sets one of them.
fn check_io_priority(r: &RawResources, d: &mut Diagnostics) {
    if let (Some(prio), Some(weight)) = (&r.io_priority, &r.io_weight) {
        d.push(
            Diagnostic::at(
                prio.pos,
                format!(
                    "io.priority {} and io.weight {} are both set",
                    prio.value, weight.value
                ),
            )
            .hint(
                "io.priority 0..7 is written as an I/O weight (docs/limits.md); \
                 keep one of the two",
            ),
        );
    }
}

fn resources(r: &RawResources) -> Resources {
    let v = |a: &Option<At<u64>>| a.as_ref().map(|a| a.value);
    Resources {
        cpu_units: r.cpu_units.as_ref().map(|a| a.value),
        cpu_limit: r.cpu_limit.as_ref().map(|a| a.value),
        cpus: r.cpus.as_ref().map(|a| a.value.clone()),
        memory: v(&r.memory),
        memory_high: v(&r.memory_high),
        swap: v(&r.swap),
        // No task ceiling set: the node's default, written out so plan and render show it.
        pids: v(&r.pids).or(Some(fleet_protocol::DEFAULT_PIDS)),
        disk_space: v(&r.disk_space),
        disk_inodes: v(&r.disk_inodes),
        io: IoLimits {
            weight: r.io_weight.as_ref().map(|a| a.value),
            read_bps: v(&r.io_read_bps),
            write_bps: v(&r.io_write_bps),
            read_iops: v(&r.io_read_iops),
            write_iops: v(&r.io_write_iops),
            priority: r.io_priority.as_ref().map(|a| a.value),
        },
    }
}
