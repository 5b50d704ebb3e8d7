//! Container entries to [`DesiredContainer`]s: sets expanded into members, what each entry's
//! members share built once (`base`: template, profile and own resources merged, references
//! checked), each member's spec made (`member`), duplicate names refused, and the demand of
//! containers pinned to each host summed for the capacity check.

use std::collections::{BTreeMap, HashMap};

use crate::model::{DesiredContainer, Placement};
use crate::spec::node::Pos;
use crate::spec::raw::{At, RawContainer};
use crate::spec::suggest::Suggester;
use crate::spec::{Diagnostic, Diagnostics};

use super::definitions::Definitions;
use super::{base, check_name, checks, expand, member};

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
        let Some(base) = base::container_base(raw, defs, &mut host_names, d) else {
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
                    group: raw.group.as_ref().map(|g| g.value.clone()).or_else(|| {
                        (members.len() > 1 || raw.count.is_some()).then(|| pattern.value.clone())
                    }),
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
