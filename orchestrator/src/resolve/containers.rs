//! Container entries to [`DesiredContainer`]s: sets expanded into members, profile and own
//! resources merged, template, profile and host references checked, duplicate names refused,
//! and the demand of containers pinned to each host summed for the capacity check.

use std::collections::{BTreeMap, HashMap};

use fleet_protocol::units::format_size;
use fleet_protocol::{DiskSpec, IoLimits, Resources, TemplateRef};

use crate::model::{DesiredContainer, Placement};
use crate::spec::node::Pos;
use crate::spec::raw::{At, RawContainer, RawResources};
use crate::spec::suggest::{Suggester, closest};
use crate::spec::{Diagnostic, Diagnostics};

use super::definitions::Definitions;
use super::{check_name, checks, expand, member, node_rules, profiles};

/// Every container of the spec, expanded, with what the later checks need about them.
pub struct Expanded {
    /// The containers, in spec order.
    pub containers: Vec<DesiredContainer>,
    /// Where each container's entry is, by container name.
    pub positions: HashMap<String, Pos>,
    /// The members of each set, by the set's pattern.
    pub set_members: HashMap<String, Vec<String>>,
    /// Each `depends_on` as written, with the index of the container that wrote it.
    pub raw_deps: Vec<(usize, At<String>)>,
    /// The summed demand of the containers pinned to each host.
    pub demand: BTreeMap<String, checks::Demand>,
}

/// Expands and resolves the container entries `raws` against `defs`. Each entry is dropped once
/// its members are built, so a big spec is not held twice.
pub fn expand_all(
    raws: Vec<RawContainer>,
    defs: &Definitions<'_>,
    d: &mut Diagnostics,
) -> Expanded {
    let mut containers: Vec<DesiredContainer> = Vec::new();
    let mut positions: HashMap<String, Pos> = HashMap::new();
    let mut set_members: HashMap<String, Vec<String>> = HashMap::new();
    let mut raw_deps: Vec<(usize, At<String>)> = Vec::new();
    let mut addresses: HashMap<std::net::IpAddr, (String, Pos)> = HashMap::new();
    let mut demand: BTreeMap<String, checks::Demand> = BTreeMap::new();
    let mut host_names = Suggester::new(defs.hosts.keys().map(String::as_str));
    for raw in raws {
        let raw = &raw;
        let Some(pattern) = &raw.name else { continue };
        let members = match expand::expand(&pattern.value, raw.count.as_ref().map(|c| c.value)) {
            Ok(m) => m,
            Err(e) => {
                d.push(Diagnostic::at(pattern.pos, e.message).hint(e.hint));
                continue;
            }
        };
        let Some(base) = container_base(raw, defs, &mut host_names, d) else {
            continue;
        };
        if members.len() > 1 || raw.count.is_some() {
            set_members.insert(
                pattern.value.clone(),
                members.iter().map(|m| m.name.clone()).collect(),
            );
        }
        for member in &members {
            let name = At::new(pattern.pos, member.name.clone());
            if !check_name(&name, "container", d) {
                break;
            }
            if let Some(first) = positions.get(&member.name) {
                d.push(
                    Diagnostic::at(
                        pattern.pos,
                        format!("container \"{}\" is defined twice", member.name),
                    )
                    .related(*first, "first defined")
                    .hint("give each container (and each set member) its own name"),
                );
                continue;
            }
            positions.insert(member.name.clone(), pattern.pos);
            let spec = member::member_spec(
                raw,
                &base,
                member,
                defs.fleet_name.map_or("", |f| &f.value),
                &mut addresses,
                d,
            );
            if let Some(h) = &raw.host {
                if !demand.contains_key(&h.value) {
                    demand.insert(h.value.clone(), checks::Demand::default());
                }
                let want = demand.get_mut(&h.value).expect("just inserted");
                want.cpu_percent += u64::from(spec.resources.cpu_limit.unwrap_or(0));
                want.memory += spec.resources.memory.unwrap_or(0);
                want.disk += spec.resources.disk_space.unwrap_or(0);
                want.count += 1;
            }
            let index = containers.len();
            raw_deps.extend(raw.depends_on.iter().map(|dep| (index, dep.clone())));
            containers.push(DesiredContainer {
                spec,
                host: raw.host.as_ref().map(|h| h.value.clone()),
                placement: Placement {
                    selector: raw.selector.clone(),
                    spread: raw.spread.as_ref().map(|s| s.value.clone()),
                    group: (members.len() > 1 || raw.count.is_some())
                        .then(|| pattern.value.clone()),
                },
                depends_on: Vec::new(),
            });
        }
    }
    Expanded {
        containers,
        positions,
        set_members,
        raw_deps,
        demand,
    }
}

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

fn container_base(
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
    check_memory_high(&merged, d);
    node_rules::disk(raw, &merged, d);
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
        resources: resources(&merged),
        command,
        disk: DiskSpec {
            from: merged.disk_from.as_ref().map(|f| f.value.clone()),
        },
    })
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
        },
    }
}
