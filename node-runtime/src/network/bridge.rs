//! The host bridge: created when missing (default `fleet0`), kept up, and given the host-side
//! address (the containers' gateway) when the spec has one. It is never deleted here: other
//! containers, the operator's routes and firewall rules may refer to it, so it outlives its last
//! container (see docs/networking.md). Runs on a host-side handle from `netns.rs`.

use rtnetlink::packet_route::link::InfoKind;
use rtnetlink::{Handle, LinkBridge};

use super::NetworkError;
use super::address;
use super::link;
use super::plan::Cidr;
use super::veth;

/// Makes sure the bridge `name` exists, is up and holds `host_address`; returns its index.
pub async fn ensure(
    handle: &Handle,
    name: &str,
    host_address: Option<Cidr>,
) -> Result<u32, NetworkError> {
    let existing = link::find(handle, name).await?;
    let index = match existing {
        Some(found) => {
            match link::kind_of(&found) {
                Some(InfoKind::Bridge) => {}
                other => {
                    return Err(NetworkError::NotABridge {
                        name: name.to_string(),
                        kind: other.map_or_else(|| "plain".to_string(), |k| k.to_string()),
                    });
                }
            }
            found.header.index
        }
        None => {
            let created = handle
                .link()
                .add(
                    LinkBridge::new(name)
                        .address(veth::bridge_mac(name).to_vec())
                        .build(),
                )
                .execute()
                .await;
            // Another attach may have created it between our look-up and now.
            if let Err(err) = created
                && super::error::errno(&err) != Some(nix::errno::Errno::EEXIST as i32)
            {
                return Err(NetworkError::Netlink {
                    what: format!("create bridge {name}"),
                    source: err,
                });
            }
            link::find(handle, name)
                .await?
                .ok_or_else(|| NetworkError::LinkNotFound {
                    name: name.to_string(),
                    place: "the host namespace after creating it".to_string(),
                })?
                .header
                .index
        }
    };
    link::set_up(handle, index, name).await?;
    if let Some(address) = host_address {
        address::ensure(handle, index, name, address).await?;
    }
    Ok(index)
}
