//! The spec as written: one struct per YAML mapping, each value with its position. Nothing here
//! is cross-checked yet (references, duplicates, cycles): that is `resolve`'s job.

use std::collections::BTreeMap;

use fleet_protocol::DesiredState;

use super::node::Pos;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    /// Where.
    pub pos: Pos,
    /// What.
    pub value: T,
}

impl<T> At<T> {
    /// Pairs a value with a position.
    pub fn new(pos: Pos, value: T) -> Self {
        At { pos, value }
    }
}

/// One YAML document (`---` separates several in a file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// Where the document starts.
    pub pos: Pos,
    /// The fleet's name, if the document names it.
    pub fleet: Option<At<String>>,
    /// Host entries.
    pub hosts: Vec<RawHost>,
    /// Tarball template entries.
    pub templates: Vec<RawTemplate>,
    /// Profile entries.
    pub profiles: Vec<RawProfile>,
    /// Container entries (single containers and sets).
    pub containers: Vec<RawContainer>,
}

/// How a host is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransportKind {
    /// Over SSH.
    #[default]
    Ssh,
    /// As a child process on this machine.
    Local,
}

/// A host entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawHost {
    /// Where the entry starts.
    pub pos: Pos,
    /// Name.
    pub name: Option<At<String>>,
    /// Transport.
    pub transport: TransportKind,
    /// Address (ssh).
    pub address: Option<At<String>>,
    /// SSH port.
    pub port: Option<u16>,
    /// SSH user.
    pub user: Option<String>,
    /// SSH private key path.
    pub identity_file: Option<String>,
    /// Pinned host key.
    pub host_key: Option<At<String>>,
    /// known_hosts path.
    pub known_hosts: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Declared CPUs.
    pub cpus: Option<At<u32>>,
    /// Declared memory.
    pub memory: Option<At<u64>>,
    /// Declared disk.
    pub disk: Option<At<u64>>,
    /// CPU overcommit ratio.
    pub overcommit_cpu: Option<At<f64>>,
    /// Memory overcommit ratio.
    pub overcommit_memory: Option<At<f64>>,
    /// fleet-node binary path.
    pub node_path: Option<String>,
    /// fleet-node state root.
    pub node_root: Option<String>,
    /// fleet-node cgroup parent.
    pub node_cgroup_parent: Option<String>,
}

/// A tarball template entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTemplate {
    /// Where the entry starts.
    pub pos: Pos,
    /// Name.
    pub name: Option<At<String>>,
    /// Tarball path on the hosts.
    pub tarball: Option<At<String>>,
    /// Expected sha256.
    pub sha256: Option<At<String>>,
}

/// A profile entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawProfile {
    /// Where the entry starts.
    pub pos: Pos,
    /// Name.
    pub name: Option<At<String>>,
    /// Parent profile.
    pub extends: Option<At<String>>,
    /// Resources it sets.
    pub resources: RawResources,
}

/// Resource fields as written; each remembers its place for range and capacity errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawResources {
    /// cpu.units
    pub cpu_units: Option<At<u32>>,
    /// cpu.limit in percent
    pub cpu_limit: Option<At<u32>>,
    /// cpu.cpus
    pub cpus: Option<At<String>>,
    /// memory bytes
    pub memory: Option<At<u64>>,
    /// memory_high bytes
    pub memory_high: Option<At<u64>>,
    /// swap bytes
    pub swap: Option<At<u64>>,
    /// pids
    pub pids: Option<At<u64>>,
    /// disk.space bytes
    pub disk_space: Option<At<u64>>,
    /// disk.inodes
    pub disk_inodes: Option<At<u64>>,
    /// disk.from: a host directory copied into the writable layer before the first start
    pub disk_from: Option<At<String>>,
    /// disk.user_quota: per-user and per-group quotas inside the container's disk
    pub disk_user_quota: Option<At<bool>>,
    /// io.weight
    pub io_weight: Option<At<u16>>,
    /// io.priority (OpenVZ's 0..=7)
    pub io_priority: Option<At<u8>>,
    /// io.read_bps
    pub io_read_bps: Option<At<u64>>,
    /// io.write_bps
    pub io_write_bps: Option<At<u64>>,
    /// io.read_iops
    pub io_read_iops: Option<At<u64>>,
    /// io.write_iops
    pub io_write_iops: Option<At<u64>>,
}

impl RawResources {
    /// Fields set in `over` replace those here.
    pub fn overlay(&mut self, over: &RawResources) {
        macro_rules! take {
            ($($f:ident),*) => {$(
                if over.$f.is_some() {
                    self.$f = over.$f.clone();
                }
            )*};
        }
        take!(
            cpu_units,
            cpu_limit,
            cpus,
            memory,
            memory_high,
            swap,
            pids,
            disk_space,
            disk_inodes,
            disk_from,
            disk_user_quota,
            io_weight,
            io_priority,
            io_read_bps,
            io_write_bps,
            io_read_iops,
            io_write_iops
        );
        // Weight and priority are two spellings of one setting: the later level's wins whole.
        if over.io_priority.is_some() && over.io_weight.is_none() {
            self.io_weight = None;
        }
        if over.io_weight.is_some() && over.io_priority.is_none() {
            self.io_priority = None;
        }
    }
}

/// Network settings as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawNetwork {
    /// Where the entry starts.
    pub pos: Pos,
    /// Mode.
    pub mode: fleet_protocol::NetworkMode,
    /// Bridge name.
    pub bridge: Option<At<String>>,
    /// Addresses (may hold `{index}`).
    pub addresses: Vec<At<String>>,
    /// Gateway.
    pub gateway: Option<At<String>>,
}

/// A container entry: one container, or a set that expands to many.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawContainer {
    /// Where the entry starts.
    pub pos: Pos,
    /// Name or set pattern (`web-{01..50}`, or `worker-{index}` with `count`).
    pub name: Option<At<String>>,
    /// Number of members of a `{index}` set.
    pub count: Option<At<u32>>,
    /// Template name.
    pub template: Option<At<String>>,
    /// Profile name.
    pub profile: Option<At<String>>,
    /// Per-field overrides of the profile.
    pub resources: RawResources,
    /// Init argv.
    pub command: Option<At<Vec<String>>>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Hostname pattern.
    pub hostname: Option<At<String>>,
    /// Pinned host.
    pub host: Option<At<String>>,
    /// Placement label selector.
    pub selector: BTreeMap<String, String>,
    /// Placement spread key.
    pub spread: Option<At<String>>,
    /// The spread group, when the entry names one (`placement.group`); else its set's pattern.
    pub group: Option<At<String>>,
    /// Dependencies.
    pub depends_on: Vec<At<String>>,
    /// Start at host boot.
    pub onboot: bool,
    /// Desired state.
    pub state: DesiredState,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Network.
    pub network: Option<RawNetwork>,
    /// Run as host root, without a user namespace.
    pub privileged: bool,
    /// Nesting and seccomp changes (names already checked).
    pub security: fleet_protocol::SecuritySpec,
    /// Who is PID 1 (`init: auto | builtin | none`).
    pub init: fleet_protocol::InitMode,
    /// What the node does when init ends on its own (`restart: no | on-failure | always`).
    pub restart: fleet_protocol::RestartSpec,
}
