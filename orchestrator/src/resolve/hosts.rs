//! Host entries to resolved [`Host`]s: how each is reached (SSH target and host-key policy, or
//! local), its labels, declared capacity, overcommit and node settings, defaults filled in.

use std::path::PathBuf;

use crate::model::{
    Host, HostCapacity, HostKeyPolicy, NodeSettings, Overcommit, SshTarget, Transport,
};
use crate::spec::raw::{RawHost, TransportKind};
use crate::spec::{Diagnostic, Diagnostics};

use super::check_name;

/// Resolves one host entry; `None` (with a diagnostic) when it cannot be reached.
pub fn host(raw: &RawHost, d: &mut Diagnostics) -> Option<Host> {
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
                    if let Err(why) = crate::transport::known_hosts::parse_pin(&key.value) {
                        d.push(
                            Diagnostic::at(
                                key.pos,
                                format!("host_key must be an OpenSSH public key: {why}"),
                            )
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
