//! The resolved fleet written back as a spec (`fleet render -o yaml`): one `containers:` entry
//! per container (sets expanded, profiles merged into `resources`), sizes in the spec's units
//! (`64Mi`, a bare number where no unit divides exactly), defaults left out, and the tarball
//! templates the containers use. Loading the text gives the same [`Fleet`], so reviewers can diff
//! it and `plan` or `apply` it: a set's spread group is kept as `placement.group`.
//!
//! The containers are written in slices on every core, as `resolve/render.rs` does for the model
//! (a block sequence under a top-level key is written unindented, so slices join by
//! concatenation).

use std::collections::BTreeMap;
use std::path::PathBuf;

use fleet_protocol::units::format_size;
use fleet_protocol::{
    DesiredState, DiskSpec, InitMode, IoLimits, NetworkMode, NetworkSpec, Resources, RestartSpec,
    SecuritySpec, TemplateRef,
};
use serde::{Serialize, Serializer};

use crate::model::{DesiredContainer, Fleet, Host, HostKeyPolicy, NodeSettings, Transport};

/// Containers per slice written on its own.
const SLICE: usize = 2_048;

/// A size as the spec writes it: `64Mi` where a binary unit divides it, else bytes.
#[derive(Debug, Clone, Copy)]
struct Size(u64);

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = format_size(self.0);
        if text.bytes().all(|b| b.is_ascii_digit()) {
            s.serialize_u64(self.0)
        } else {
            s.serialize_str(&text)
        }
    }
}

fn size(v: Option<u64>) -> Option<Size> {
    v.map(Size)
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct Head<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    fleet: &'a str,
    hosts: Vec<HostEntry<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    templates: Vec<TemplateEntry<'a>>,
}

#[derive(Serialize)]
struct HostEntry<'a> {
    name: &'a str,
    transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_file: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    known_hosts: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Capacity::is_empty")]
    capacity: Capacity,
    overcommit: Overcommit,
    node: &'a NodeSettings,
}

#[derive(Serialize)]
struct Capacity {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disk: Option<Size>,
}

impl Capacity {
    fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.disk.is_none()
    }
}

#[derive(Serialize)]
struct Overcommit {
    cpu: f64,
    memory: f64,
}

#[derive(Serialize)]
struct TemplateEntry<'a> {
    name: &'a str,
    tarball: &'a str,
    sha256: &'a str,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    template: &'a str,
    command: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<PlacementEntry<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    depends_on: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    onboot: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_false")]
    privileged: bool,
    #[serde(skip_serializing_if = "SecuritySpec::is_default")]
    security: &'a SecuritySpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<&'static str>,
    #[serde(skip_serializing_if = "RestartSpec::is_default")]
    restart: &'a RestartSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<ResourcesEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<NetworkEntry<'a>>,
}

#[derive(Serialize)]
struct PlacementEntry<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    selector: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spread: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
}

#[derive(Serialize)]
struct ResourcesEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<CpuEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_high: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    swap: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disk: Option<DiskEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    io: Option<IoEntry>,
}

#[derive(Serialize)]
struct CpuEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    units: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<&'a str>,
}

#[derive(Serialize)]
struct DiskEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    space: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inodes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    user_quota: bool,
}

#[derive(Serialize)]
struct IoEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_bps: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_bps: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_iops: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_iops: Option<u64>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum NetworkEntry<'a> {
    Word(&'static str),
    Bridged {
        #[serde(skip_serializing_if = "Option::is_none")]
        bridge: Option<&'a str>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        addresses: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        gateway: Option<&'a str>,
    },
}

fn host_entry(h: &Host) -> HostEntry<'_> {
    let (transport, ssh) = match &h.transport {
        Transport::Local => ("local", None),
        Transport::Ssh(t) => ("ssh", Some(t)),
    };
    let (host_key, known_hosts) = match ssh.map(|t| &t.host_key) {
        Some(HostKeyPolicy::Pinned { key }) => (Some(key.as_str()), None),
        Some(HostKeyPolicy::KnownHosts { path }) => (None, path.as_ref()),
        None => (None, None),
    };
    HostEntry {
        name: &h.name,
        transport,
        address: ssh.map(|t| t.address.as_str()),
        port: ssh.map(|t| t.port),
        user: ssh.map(|t| t.user.as_str()),
        identity_file: ssh.and_then(|t| t.identity_file.as_ref()),
        host_key,
        known_hosts,
        labels: &h.labels,
        capacity: Capacity {
            cpus: h.capacity.cpus,
            memory: size(h.capacity.memory),
            disk: size(h.capacity.disk),
        },
        overcommit: Overcommit {
            cpu: h.overcommit.cpu,
            memory: h.overcommit.memory,
        },
        node: &h.node,
    }
}

fn resources_entry<'a>(r: &'a Resources, disk: &'a DiskSpec) -> Option<ResourcesEntry<'a>> {
    let cpu = CpuEntry {
        units: r.cpu_units,
        limit: r.cpu_limit.map(|l| format!("{l}%")),
        cpus: r.cpus.as_deref(),
    };
    let disk = DiskEntry {
        space: size(r.disk_space),
        inodes: r.disk_inodes,
        from: disk.from.as_deref(),
        user_quota: disk.user_quota,
    };
    let io: &IoLimits = &r.io;
    let entry = ResourcesEntry {
        cpu: (cpu.units.is_some() || cpu.limit.is_some() || cpu.cpus.is_some()).then_some(cpu),
        memory: size(r.memory),
        memory_high: size(r.memory_high),
        swap: size(r.swap),
        pids: r.pids,
        disk: (disk.space.is_some()
            || disk.inodes.is_some()
            || disk.from.is_some()
            || disk.user_quota)
            .then_some(disk),
        io: (!io.is_empty()).then_some(IoEntry {
            weight: io.weight,
            read_bps: size(io.read_bps),
            write_bps: size(io.write_bps),
            read_iops: io.read_iops,
            write_iops: io.write_iops,
        }),
    };
    let empty = entry.cpu.is_none()
        && entry.memory.is_none()
        && entry.memory_high.is_none()
        && entry.swap.is_none()
        && entry.pids.is_none()
        && entry.disk.is_none()
        && entry.io.is_none();
    (!empty).then_some(entry)
}

fn network_entry(n: &NetworkSpec) -> Option<NetworkEntry<'_>> {
    match n.mode {
        NetworkMode::None => None,
        NetworkMode::Host => Some(NetworkEntry::Word("host")),
        NetworkMode::Bridged => Some(NetworkEntry::Bridged {
            bridge: n.bridge.as_deref(),
            addresses: &n.addresses,
            gateway: n.gateway.as_deref(),
        }),
    }
}

fn entry(c: &DesiredContainer) -> Entry<'_> {
    let s = &c.spec;
    let p = &c.placement;
    Entry {
        name: &s.name,
        template: s.template.display_name(),
        command: &s.command,
        env: &s.env,
        hostname: (s.hostname != s.name).then_some(s.hostname.as_str()),
        host: c.host.as_deref(),
        placement: (!p.selector.is_empty() || p.spread.is_some() || p.group.is_some()).then_some(
            PlacementEntry {
                selector: &p.selector,
                spread: p.spread.as_deref(),
                group: p.group.as_deref(),
            },
        ),
        depends_on: &c.depends_on,
        onboot: s.onboot,
        state: (s.state == DesiredState::Stopped).then_some("stopped"),
        labels: &s.labels,
        privileged: s.privileged,
        security: &s.security,
        init: (s.init != InitMode::Auto).then(|| s.init.as_str()),
        restart: &s.restart,
        resources: resources_entry(&s.resources, &s.disk),
        network: network_entry(&s.network),
    }
}

/// `fleet` as spec YAML that loads back to the same fleet.
pub fn spec_yaml(fleet: &Fleet) -> Result<String, serde_saphyr::ser::Error> {
    let mut templates: BTreeMap<&str, TemplateEntry<'_>> = BTreeMap::new();
    for c in &fleet.containers {
        if let TemplateRef::Tarball { name, path, sha256 } = &c.spec.template {
            templates.entry(name).or_insert(TemplateEntry {
                name,
                tarball: path,
                sha256,
            });
        }
    }
    let head = serde_saphyr::to_string(&Head {
        api_version: "fleet/v1",
        fleet: &fleet.name,
        hosts: fleet.hosts.iter().map(host_entry).collect(),
        templates: templates.into_values().collect(),
    })?;
    let parts = crate::parallel::in_slices(
        &fleet.containers,
        SLICE,
        crate::parallel::cores(),
        |slice| serde_saphyr::to_string(&slice.iter().map(entry).collect::<Vec<_>>()),
    )?;
    let mut out = head;
    if parts.is_empty() {
        out.push_str("containers: []\n");
    } else {
        out.push_str("containers:\n");
        for text in parts {
            out.push_str(&text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let fleet = crate::resolve::load_str("in.yaml", text).expect("the input loads");
        let rendered = spec_yaml(&fleet).expect("renders");
        let back = crate::resolve::load_str("rendered.yaml", &rendered)
            .unwrap_or_else(|e| panic!("{}\n{rendered}", e.render()));
        assert_eq!(back.hosts, fleet.hosts, "{rendered}");
        assert_eq!(back.containers, fleet.containers, "{rendered}");
    }

    #[test]
    fn the_demo_loads_back_to_the_same_fleet() {
        round_trip(crate::commands::DEMO_SPEC);
    }

    #[test]
    fn every_field_loads_back_to_the_same_fleet() {
        round_trip(
            "apiVersion: fleet/v1\nfleet: all\nhosts:\n  - name: a\n    address: 192.0.2.1\n    \
             port: 2222\n    user: ops\n    identity_file: /k/id\n    known_hosts: /k/kh\n    \
             labels: {zone: z1}\n    capacity: {cpus: 8, memory: 16Gi, disk: 100Gi}\n    \
             overcommit: {cpu: 2.5, memory: 1.2}\n    node: {path: /bin/fn, root: /r, cgroup_parent: p}\n  \
             - name: b\n    transport: local\ntemplates:\n  - name: alp\n    tarball: /t/alp.tar\n    \
             sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"\n\
             containers:\n  - name: web-{01..03}\n    template: alp\n    profile: small\n    \
             command: [\"/bin/sh\", \"-c\", \"echo {name}\"]\n    env: {SLOT: \"{index}\"}\n    \
             hostname: \"{name}.x\"\n    placement: {selector: {zone: z1}, spread: host}\n    \
             depends_on: [db]\n    onboot: true\n    state: stopped\n    labels: {app: w}\n    \
             security: {nesting: true, syscalls: {allow: [io_uring_setup], deny: [chroot]}}\n    \
             init: builtin\n    restart: {policy: on-failure, max_retries: 5}\n    \
             resources:\n      memory: 33554433\n      memory_high: 16Mi\n      swap: 1G\n      \
             cpu: {units: 1500, limit: 150%, cpus: 0-1}\n      \
             disk: {space: 1Gi, inodes: 70000, from: /srv/data, user_quota: true}\n      \
             io: {weight: 200, read_bps: 10Mi, write_bps: 5M, read_iops: 100, write_iops: 50}\n    \
             network:\n      bridge: br1\n      addresses: [\"10.9.0.{index}/24\"]\n      gateway: 10.9.0.254\n  \
             - name: db\n    template: host\n    command: [/sbin/init]\n    host: a\n    privileged: true\n    \
             network: host\n  - name: solo\n    template: busybox\n    command: [sleep, \"9\"]\n    \
             host: b\n    restart: always\n",
        );
    }
}
