//! Raw spec documents to the resolved [`Fleet`]: sets expanded, profiles merged, references
//! (templates, profiles, hosts, dependencies) checked, defaults filled in, and the whole fleet
//! checked for duplicates, cycles and pinned containers over capacity.
//!
//! Upstream is `crate::spec` (files to raw documents); downstream everything that plans works on
//! the [`Fleet`] this returns, whose values need no further checking.

pub mod checks;
pub mod expand;
pub mod profiles;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use fleet_protocol::{ContainerSpec, IoLimits, NetworkSpec, Resources, TemplateRef};

use crate::model::{
    DesiredContainer, Fleet, Host, HostCapacity, HostKeyPolicy, NodeSettings, Overcommit,
    Placement, SshTarget, Transport,
};
use crate::spec::node::Pos;
use crate::spec::raw::{
    At, RawContainer, RawHost, RawProfile, RawResources, RawTemplate, TransportKind,
};
use crate::spec::suggest::closest;
use crate::spec::{self, Diagnostic, Diagnostics, Loaded, Sources};

/// A failed load: every problem found, and the files to quote them from.
#[derive(Debug)]
pub struct LoadError {
    /// The files read.
    pub sources: Sources,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// All problems rendered, one block each.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.sources))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.diagnostics.len();
        write!(f, "the spec has {n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for LoadError {}

/// Loads, checks and resolves the spec files named by `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Fleet, LoadError> {
    load_counted(paths).map(|(fleet, _)| fleet)
}

/// How many definitions a load held, for `fleet validate`'s summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Profiles defined in the spec files (built-ins not counted).
    pub profiles: usize,
    /// Tarball templates defined in the spec files (built-ins not counted).
    pub templates: usize,
}

/// [`load`], also counting the spec's own profiles and templates.
pub fn load_counted(paths: &[PathBuf]) -> Result<(Fleet, Counts), LoadError> {
    let mut d = Diagnostics::default();
    let loaded = spec::load_paths(paths, &mut d);
    let counts = Counts {
        profiles: loaded.documents.iter().map(|doc| doc.profiles.len()).sum(),
        templates: loaded.documents.iter().map(|doc| doc.templates.len()).sum(),
    };
    finish(loaded, d).map(|fleet| (fleet, counts))
}

/// Loads, checks and resolves spec text held in memory (the embedded demo, tests).
pub fn load_str(name: &str, text: &str) -> Result<Fleet, LoadError> {
    let mut d = Diagnostics::default();
    let mut loaded = Loaded::default();
    spec::load_text(&mut loaded, name.to_string(), text.to_string(), &mut d);
    finish(loaded, d)
}

fn finish(loaded: Loaded, mut d: Diagnostics) -> Result<Fleet, LoadError> {
    let mut builtins = Loaded::default();
    let mut builtin_diags = Diagnostics::default();
    for (name, text) in profiles::BUILTIN {
        spec::load_text(
            &mut builtins,
            name.to_string(),
            text.to_string(),
            &mut builtin_diags,
        );
    }
    debug_assert!(builtin_diags.is_empty(), "built-in profiles must be valid");
    let fleet = resolve(&loaded, &builtins, &mut d);
    match fleet {
        Some(fleet) if d.is_empty() => Ok(fleet),
        _ => {
            if d.is_empty() {
                d.push(Diagnostic::general("the spec could not be resolved"));
            }
            Err(LoadError {
                sources: loaded.sources,
                diagnostics: d.sorted(),
            })
        }
    }
}

/// Names of things: 1 to 64 of `[A-Za-z0-9._-]`, starting with a letter or digit, no `..`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_name(name: &At<String>, what: &str, d: &mut Diagnostics) -> bool {
    if valid_name(&name.value) {
        return true;
    }
    d.push(
        Diagnostic::at(name.pos, format!("invalid {what} name \"{}\"", name.value)).hint(
            "names are 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'",
        ),
    );
    false
}

/// Collects named entries, reporting a second definition of a name with both places.
fn unique<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    name_of: impl Fn(&'a T) -> Option<&'a At<String>>,
    what: &str,
    d: &mut Diagnostics,
) -> BTreeMap<String, &'a T>
where
    T: 'a,
{
    let mut seen: BTreeMap<String, (&'a T, Pos)> = BTreeMap::new();
    for item in items {
        let Some(name) = name_of(item) else { continue };
        if let Some((_, first)) = seen.get(&name.value) {
            d.push(
                Diagnostic::at(
                    name.pos,
                    format!("{what} \"{}\" is defined twice", name.value),
                )
                .related(*first, "first defined")
                .hint(format!("give each {what} its own name")),
            );
            continue;
        }
        seen.insert(name.value.clone(), (item, name.pos));
    }
    seen.into_iter().map(|(k, (v, _))| (k, v)).collect()
}

fn resolve(loaded: &Loaded, builtins: &Loaded, d: &mut Diagnostics) -> Option<Fleet> {
    let docs = &loaded.documents;
    // The fleet's identity: named at least once, the same everywhere.
    let mut fleet_name: Option<&At<String>> = None;
    for doc in docs {
        let Some(name) = &doc.fleet else { continue };
        match fleet_name {
            None => {
                if check_name(name, "fleet", d) {
                    fleet_name = Some(name);
                }
            }
            Some(first) if first.value != name.value => d.push(
                Diagnostic::at(
                    name.pos,
                    format!(
                        "fleet \"{}\" differs from fleet \"{}\" named earlier",
                        name.value, first.value
                    ),
                )
                .related(first.pos, "first named")
                .hint("all files of one apply describe one fleet"),
            ),
            Some(_) => {}
        }
    }
    if fleet_name.is_none() && d.is_empty() {
        let hint = "add `fleet: NAME` to one document; the fleet owns the containers it creates";
        d.push(match docs.first() {
            Some(doc) => Diagnostic::at(doc.pos, "no document names the fleet").hint(hint),
            None => Diagnostic::general("the spec holds no fleet documents").hint(hint),
        });
    }

    let hosts = unique(
        docs.iter().flat_map(|doc| &doc.hosts),
        |h| h.name.as_ref(),
        "host",
        d,
    );
    let templates = unique(
        docs.iter().flat_map(|doc| &doc.templates),
        |t| t.name.as_ref(),
        "template",
        d,
    );
    for (name, t) in &templates {
        if let Some(n) = &t.name
            && check_name(n, "template", d)
            && matches!(name.as_str(), "host" | "busybox")
        {
            d.push(
                Diagnostic::at(n.pos, format!("\"{name}\" is a built-in template"))
                    .hint("choose another name for a tarball template"),
            );
        }
        check_sha256(t, d);
    }
    let mut all_profiles: BTreeMap<String, &RawProfile> = unique(
        builtins.documents.iter().flat_map(|doc| &doc.profiles),
        |p| p.name.as_ref(),
        "profile",
        &mut Diagnostics::default(),
    );
    let own_profiles = unique(
        docs.iter().flat_map(|doc| &doc.profiles),
        |p| p.name.as_ref(),
        "profile",
        d,
    );
    for p in own_profiles.values() {
        if let Some(n) = &p.name {
            check_name(n, "profile", d);
        }
    }
    all_profiles.extend(own_profiles);
    let profile_resources = profiles::flatten(&all_profiles, d);

    let resolved_hosts: Vec<Host> = hosts.values().filter_map(|h| host(h, d)).collect();

    // Containers: expand sets, merge resources, check references.
    let mut containers: Vec<DesiredContainer> = Vec::new();
    let mut positions: HashMap<String, Pos> = HashMap::new();
    let mut set_members: HashMap<String, Vec<String>> = HashMap::new();
    let mut raw_deps: Vec<(usize, &At<String>)> = Vec::new();
    let mut addresses: HashMap<std::net::IpAddr, (String, Pos)> = HashMap::new();
    let mut demand: BTreeMap<String, checks::Demand> = BTreeMap::new();
    for raw in docs.iter().flat_map(|doc| &doc.containers) {
        let Some(pattern) = &raw.name else { continue };
        let members = match expand::expand(&pattern.value, raw.count.as_ref().map(|c| c.value)) {
            Ok(m) => m,
            Err(e) => {
                d.push(Diagnostic::at(pattern.pos, e.message).hint(e.hint));
                continue;
            }
        };
        let Some(base) = container_base(raw, &templates, &profile_resources, &hosts, d) else {
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
            let spec = member_spec(
                raw,
                &base,
                member,
                fleet_name.map_or("", |f| &f.value),
                &mut addresses,
                d,
            );
            if let Some(h) = &raw.host {
                let want = demand.entry(h.value.clone()).or_default();
                want.cpu_percent += u64::from(spec.resources.cpu_limit.unwrap_or(0));
                want.memory += spec.resources.memory.unwrap_or(0);
                want.disk += spec.resources.disk_space.unwrap_or(0);
                want.count += 1;
            }
            let index = containers.len();
            raw_deps.extend(raw.depends_on.iter().map(|dep| (index, dep)));
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

    // Dependencies: container names, or a set's pattern standing for all its members.
    for (index, dep) in raw_deps {
        if let Some(members) = set_members.get(&dep.value) {
            containers[index].depends_on.extend(members.iter().cloned());
        } else if positions.contains_key(&dep.value) {
            containers[index].depends_on.push(dep.value.clone());
        } else {
            let mut diag = Diagnostic::at(
                dep.pos,
                format!("depends_on names unknown container \"{}\"", dep.value),
            );
            if let Some(s) = closest(&dep.value, positions.keys().map(String::as_str)) {
                diag = diag.hint(format!("did you mean \"{s}\"?"));
            }
            d.push(diag);
        }
    }
    for c in &mut containers {
        c.depends_on.sort();
        c.depends_on.dedup();
        if c.depends_on.contains(&c.spec.name) {
            d.push(Diagnostic::at(
                positions[&c.spec.name],
                format!("container \"{}\" depends on itself", c.spec.name),
            ));
            c.depends_on.retain(|n| n != &c.spec.name);
        }
    }
    let entries: Vec<checks::Entry<'_>> = containers
        .iter()
        .map(|c| checks::Entry {
            name: &c.spec.name,
            pos: positions[&c.spec.name],
            depends_on: &c.depends_on,
        })
        .collect();
    checks::dependency_cycles(&entries, d);
    checks::bridge_subnets(&containers, &positions, d);
    let host_list: Vec<&RawHost> = hosts.values().copied().collect();
    checks::pinned_capacity(&host_list, &demand, d);

    containers.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let fleet = Fleet {
        name: fleet_name?.value.clone(),
        hosts: resolved_hosts,
        containers,
    };
    if d.is_empty() {
        placement_findings(&fleet, &positions, &hosts, d);
    }
    Some(fleet)
}

/// What only placement can tell (selectors matching no host, containers larger than any host
/// they may go to), located at the entry concerned.
fn placement_findings(
    fleet: &Fleet,
    containers: &HashMap<String, Pos>,
    hosts: &BTreeMap<String, &RawHost>,
    d: &mut Diagnostics,
) {
    use crate::schedule::{DemandDefaults, Subject, validate};
    for finding in validate(fleet, &BTreeMap::new(), &DemandDefaults::default()) {
        let pos = match &finding.subject {
            Subject::Container(name) => containers.get(name).copied(),
            Subject::Host(name) => hosts.get(name).map(|h| h.pos),
        };
        let message = format!("{}: {}", finding.field, finding.message);
        d.push(match pos {
            Some(pos) => Diagnostic::at(pos, message),
            None => Diagnostic::general(message),
        });
    }
}

fn check_sha256(t: &RawTemplate, d: &mut Diagnostics) {
    if let Some(sum) = &t.sha256
        && (sum.value.len() != 64 || !sum.value.chars().all(|c| c.is_ascii_hexdigit()))
    {
        d.push(
            Diagnostic::at(sum.pos, "sha256 must be 64 hexadecimal digits")
                .hint("compute it with `sha256sum FILE`"),
        );
    }
}

fn host(raw: &RawHost, d: &mut Diagnostics) -> Option<Host> {
    let name = raw.name.as_ref()?;
    check_name(name, "host", d);
    let transport = match raw.transport {
        TransportKind::Local => Transport::Local,
        TransportKind::Ssh => {
            let Some(address) = &raw.address else {
                d.push(
                    Diagnostic::at(raw.pos, format!("host \"{}\" has no address", name.value))
                        .hint("give ssh hosts an `address:`, or set `transport: local` for this machine"),
                );
                return None;
            };
            let host_key = match (&raw.host_key, &raw.known_hosts) {
                (Some(key), _) => {
                    if !key.value.starts_with("ssh-") && !key.value.starts_with("ecdsa-") {
                        d.push(
                            Diagnostic::at(key.pos, "host_key must be an OpenSSH public key")
                                .hint("copy it from /etc/ssh/ssh_host_ed25519_key.pub on the host: \"ssh-ed25519 AAAA...\""),
                        );
                    }
                    HostKeyPolicy::Pinned {
                        key: key.value.clone(),
                    }
                }
                (None, path) => HostKeyPolicy::KnownHosts {
                    path: path.as_ref().map(PathBuf::from),
                },
            };
            Transport::Ssh(SshTarget {
                address: address.value.clone(),
                port: raw.port.unwrap_or(22),
                user: raw.user.clone().unwrap_or_else(|| "root".into()),
                identity_file: raw.identity_file.as_ref().map(PathBuf::from),
                host_key,
            })
        }
    };
    let defaults = NodeSettings::default();
    let default_path = match raw.transport {
        TransportKind::Local => "fleet-node".to_string(),
        TransportKind::Ssh => defaults.path,
    };
    Some(Host {
        name: name.value.clone(),
        transport,
        labels: raw.labels.clone(),
        capacity: HostCapacity {
            cpus: raw.cpus.as_ref().map(|c| c.value),
            memory: raw.memory.as_ref().map(|c| c.value),
            disk: raw.disk.as_ref().map(|c| c.value),
        },
        overcommit: Overcommit {
            cpu: raw.overcommit_cpu.as_ref().map_or(1.0, |o| o.value),
            memory: raw.overcommit_memory.as_ref().map_or(1.0, |o| o.value),
        },
        node: NodeSettings {
            path: raw.node_path.clone().unwrap_or(default_path),
            root: raw.node_root.clone().unwrap_or(defaults.root),
            cgroup_parent: raw
                .node_cgroup_parent
                .clone()
                .unwrap_or(defaults.cgroup_parent),
        },
    })
}

/// What every member of a container entry shares: template, merged resources, command.
struct Base {
    template: TemplateRef,
    resources: Resources,
    command: Vec<String>,
}

fn container_base(
    raw: &RawContainer,
    templates: &BTreeMap<String, &RawTemplate>,
    profiles: &BTreeMap<String, RawResources>,
    hosts: &BTreeMap<String, &RawHost>,
    d: &mut Diagnostics,
) -> Option<Base> {
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
    if let Some(h) = &raw.host
        && !hosts.contains_key(&h.value)
    {
        let mut diag = Diagnostic::at(h.pos, format!("unknown host \"{}\"", h.value));
        if let Some(s) = closest(&h.value, hosts.keys().map(String::as_str)) {
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
    })
}

fn resources(r: &RawResources) -> Resources {
    let v = |a: &Option<At<u64>>| a.as_ref().map(|a| a.value);
    Resources {
        cpu_units: r.cpu_units.as_ref().map(|a| a.value),
        cpu_limit: r.cpu_limit.as_ref().map(|a| a.value),
        cpus: r.cpus.as_ref().map(|a| a.value.clone()),
        memory: v(&r.memory),
        swap: v(&r.swap),
        pids: v(&r.pids),
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

fn member_spec(
    raw: &RawContainer,
    base: &Base,
    member: &expand::Member,
    fleet: &str,
    addresses: &mut HashMap<std::net::IpAddr, (String, Pos)>,
    d: &mut Diagnostics,
) -> ContainerSpec {
    let hostname = raw.hostname.as_ref().map_or_else(
        || member.name.clone(),
        |h| expand::substitute(&h.value, member),
    );
    if let Some(h) = &raw.hostname
        && (hostname.len() > 64
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        d.push(
            Diagnostic::at(h.pos, format!("invalid hostname \"{hostname}\""))
                .hint("hostnames are up to 64 letters, digits, '-' and '.'"),
        );
    }
    let mut network = NetworkSpec::default();
    if let Some(n) = &raw.network {
        network.mode = n.mode;
        network.bridge = n.bridge.as_ref().map(|b| b.value.clone());
        for a in &n.addresses {
            let text = expand::substitute(&a.value, member);
            match checks::parse_cidr(&text) {
                Ok(ip) => {
                    if let Some((owner, first)) = addresses.get(&ip) {
                        d.push(
                            Diagnostic::at(a.pos, format!("address {ip} of container \"{}\" is already used by \"{owner}\"", member.name))
                                .related(*first, "first used")
                                .hint("each address may belong to one container of the fleet"),
                        );
                    } else {
                        addresses.insert(ip, (member.name.clone(), a.pos));
                    }
                    network.addresses.push(text);
                }
                Err(e) => d.push(Diagnostic::at(a.pos, format!("invalid address: {e}"))),
            }
        }
        if let Some(g) = &n.gateway {
            match g.value.parse::<std::net::IpAddr>() {
                Ok(ip) => {
                    if !network.addresses.iter().any(|a| checks::same_subnet(a, ip)) {
                        d.push(
                            Diagnostic::at(g.pos, format!("gateway {ip} is outside the subnets of the container's addresses"))
                                .hint("the gateway must be reachable on eth0: pick an address in one of the container's subnets"),
                        );
                    }
                    network.gateway = Some(g.value.clone());
                }
                Err(_) => d.push(Diagnostic::at(
                    g.pos,
                    format!("gateway \"{}\" is not an IP address", g.value),
                )),
            }
        }
    }
    ContainerSpec {
        name: member.name.clone(),
        fleet: fleet.to_string(),
        template: base.template.clone(),
        command: base.command.clone(),
        env: raw
            .env
            .iter()
            .map(|(k, v)| (k.clone(), expand::substitute(v, member)))
            .collect(),
        hostname,
        onboot: raw.onboot,
        state: raw.state,
        labels: raw.labels.clone(),
        resources: base.resources.clone(),
        network,
        user_namespace: raw.user_namespace,
    }
}
