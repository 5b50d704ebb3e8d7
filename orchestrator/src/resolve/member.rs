//! One member of a container entry to its [`ContainerSpec`]: `{name}`/`{index}` substituted in
//! hostname, env and addresses, the network checked (addresses unique across the fleet, the
//! gateway inside a subnet of the container's own addresses).

use std::collections::HashMap;
use std::net::IpAddr;

use fleet_protocol::{ContainerSpec, NetworkSpec};

use crate::spec::node::Pos;
use crate::spec::raw::RawContainer;
use crate::spec::{Diagnostic, Diagnostics};

use super::base::Base;
use super::{checks, expand};

/// The spec of `member` of entry `raw`, whose shared parts are `base`; addresses it takes are
/// recorded in `addresses` (address -> owner and where it was written).
pub fn member_spec(
    raw: &RawContainer,
    base: &Base,
    member: &expand::Member,
    fleet: &str,
    addresses: &mut HashMap<IpAddr, (String, Pos)>,
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
            match g.value.parse::<IpAddr>() {
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
        privileged: raw.privileged,
        security: raw.security.clone(),
        init: raw.init,
        restart: raw.restart,
        disk: base.disk.clone(),
    }
}
