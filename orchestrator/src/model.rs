//! The resolved fleet: what the spec files mean once loaded, checked, expanded and merged.
//!
//! Produced by `resolve` from the raw spec documents; consumed by `schedule` (placement),
//! `diff`/`plan` (against observed state) and `render`. Plain values, no I/O, no source spans:
//! everything here has already been validated, so downstream code need not re-check it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fleet_protocol::{ContainerSpec, Resources};
use serde::Serialize;

/// A whole fleet as the spec files describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fleet {
    /// The fleet's identity; it owns the containers it creates.
    pub name: String,
    /// Hosts, sorted by name.
    pub hosts: Vec<Host>,
    /// Containers after set expansion and profile merging, sorted by name.
    pub containers: Vec<DesiredContainer>,
    /// What the spec says that is valid but worth changing, rendered like errors
    /// (`file:line:col: warning: ...`), for the commands to print.
    pub warnings: Vec<String>,
}

impl Fleet {
    /// The host with this name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts
            .binary_search_by(|h| h.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.hosts[i])
    }

    /// The container with this name.
    pub fn container(&self, name: &str) -> Option<&DesiredContainer> {
        self.containers
            .binary_search_by(|c| c.spec.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.containers[i])
    }
}

/// One host entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// Name used by containers' `host:` and in reports.
    pub name: String,
    /// How to reach `fleet-node` on it.
    pub transport: Transport,
    /// Labels for placement selectors and spread.
    pub labels: BTreeMap<String, String>,
    /// Declared capacity; fields left out are taken from the node's hello.
    pub capacity: HostCapacity,
    /// Overcommit ratios (>= 1.0).
    pub overcommit: Overcommit,
    /// Where and how `fleet-node` runs on the host.
    pub node: NodeSettings,
}

/// How the orchestrator reaches a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transport {
    /// `fleet-node serve --stdio` as a child process on this machine.
    Local,
    /// `fleet-node serve --stdio` over one SSH session.
    Ssh(SshTarget),
}

/// SSH connection settings of a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SshTarget {
    /// Address or DNS name.
    pub address: String,
    /// TCP port (22).
    pub port: u16,
    /// Login user (root).
    pub user: String,
    /// Private key to authenticate with; else the user's usual keys and agent.
    pub identity_file: Option<PathBuf>,
    /// How the host key is verified.
    pub host_key: HostKeyPolicy,
}

/// How a host's SSH key is verified. There is no "accept anything" choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostKeyPolicy {
    /// The key pinned in the spec, in OpenSSH public key form (`ssh-ed25519 AAAA...`).
    Pinned {
        /// The key.
        key: String,
    },
    /// A known_hosts file; `None` means the user's `~/.ssh/known_hosts`.
    KnownHosts {
        /// Path of the file.
        path: Option<PathBuf>,
    },
}

/// Declared capacity of a host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostCapacity {
    /// CPUs.
    pub cpus: Option<u32>,
    /// Memory in bytes.
    pub memory: Option<u64>,
    /// Disk for container images, in bytes.
    pub disk: Option<u64>,
}

/// How far allocations may exceed capacity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Overcommit {
    /// CPU ratio (1.0 = none).
    pub cpu: f64,
    /// Memory ratio (1.0 = none).
    pub memory: f64,
}

impl Default for Overcommit {
    fn default() -> Self {
        Overcommit {
            cpu: 1.0,
            memory: 1.0,
        }
    }
}

/// Where `fleet-node` lives on a host, so that several nodes can share one machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSettings {
    /// Path of the `fleet-node` binary on the host.
    pub path: String,
    /// The node's state root (`--root`).
    pub root: String,
    /// The node's cgroup parent (`--cgroup-parent`).
    pub cgroup_parent: String,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            path: "/usr/local/bin/fleet-node".into(),
            root: "/var/lib/fleet-node".into(),
            cgroup_parent: "fleet".into(),
        }
    }
}

/// One container the fleet wants, with where it may go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredContainer {
    /// The resolved, host-independent description sent to the node.
    pub spec: ContainerSpec,
    /// Pinned host, if the spec names one.
    pub host: Option<String>,
    /// Constraints for the scheduler when not pinned.
    pub placement: Placement,
    /// Containers that must run before this one starts.
    pub depends_on: Vec<String>,
}

impl DesiredContainer {
    /// Resources the scheduler accounts for.
    pub fn resources(&self) -> &Resources {
        &self.spec.resources
    }
}

/// Placement constraints of an unpinned container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Every label here must match the host's.
    pub selector: BTreeMap<String, String>,
    /// Spread containers of the same set over distinct values of this host label; `host` spreads
    /// over hosts themselves.
    pub spread: Option<String>,
    /// Containers sharing this group are spread (the set's pattern for expanded sets).
    pub group: Option<String>,
}
