//! Interface addresses through netlink: list what an interface holds, add one if missing,
//! remove one, and reconcile an interface to a wanted list (used for the container's eth0 on
//! attach and on live updates, and for the bridge's host-side address). Link-local IPv6
//! addresses the kernel assigns itself are left alone and never reported.

use futures_util::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::Handle;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope,
};

use super::NetworkError;
use super::error::errno;
use super::plan::Cidr;

/// One address an interface holds, with the kernel's message kept for deleting it exactly.
struct Held {
    cidr: Cidr,
    message: AddressMessage,
}

async fn held(handle: &Handle, index: u32, name: &str) -> Result<Vec<Held>, NetworkError> {
    let messages: Vec<AddressMessage> = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(NetworkError::netlink(format!("list addresses of {name}")))?;
    Ok(messages
        .into_iter()
        // The dump filter is advisory on kernels without strict checking: filter again.
        .filter(|m| m.header.index == index && m.header.scope == AddressScope::Universe)
        .filter_map(|message| {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on
            // point-to-point links, so prefer the former when both are present.
            let local = message.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let address = message.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            let addr = local.or(address)?;
            Some(Held {
                cidr: Cidr {
                    addr,
                    prefix: message.header.prefix_len,
                },
                message,
            })
        })
        .collect())
}

/// The global addresses on interface `index`, sorted.
pub async fn list(handle: &Handle, index: u32, name: &str) -> Result<Vec<Cidr>, NetworkError> {
    let mut out: Vec<Cidr> = held(handle, index, name)
        .await?
        .into_iter()
        .map(|h| h.cidr)
        .collect();
    out.sort();
    Ok(out)
}

/// Adds `address` to the interface unless it already holds it (same address and prefix).
pub async fn ensure(
    handle: &Handle,
    index: u32,
    name: &str,
    address: Cidr,
) -> Result<(), NetworkError> {
    if list(handle, index, name).await?.contains(&address) {
        return Ok(());
    }
    add(handle, index, name, address).await
}

async fn add(handle: &Handle, index: u32, name: &str, address: Cidr) -> Result<(), NetworkError> {
    let mut request = handle
        .address()
        .add(index, address.addr, address.prefix)
        .replace();
    if address.addr.is_ipv6() {
        // The address is assigned by the node, which has already checked it is unique; waiting
        // seconds for duplicate detection would only delay the container's first packets.
        request.message_mut().header.flags |= AddressHeaderFlags::Nodad;
    }
    request
        .execute()
        .await
        .map_err(NetworkError::netlink(format!("add {address} to {name}")))
}

/// Makes the interface hold exactly `want`: adds what is missing first, then removes the rest,
/// so an address that stays is normally never absent.
pub async fn reconcile(
    handle: &Handle,
    index: u32,
    name: &str,
    want: &[Cidr],
) -> Result<(), NetworkError> {
    let before = held(handle, index, name).await?;
    for address in want {
        if !before.iter().any(|h| h.cidr == *address) {
            add(handle, index, name, *address).await?;
        }
    }
    for stale in before.into_iter().filter(|h| !want.contains(&h.cidr)) {
        match handle.address().del(stale.message).execute().await {
            Ok(()) => {}
            // Removing a primary IPv4 address also removes its secondaries: already gone.
            Err(err) if errno(&err) == Some(Errno::EADDRNOTAVAIL as i32) => {}
            Err(source) => {
                return Err(NetworkError::Netlink {
                    what: format!("remove {} from {name}", stale.cidr),
                    source,
                });
            }
        }
    }
    // Without promote_secondaries the kernel drops an IPv4 primary's secondaries with it, so a
    // wanted address in the same subnet as a removed one may be gone now: add it back.
    let after = list(handle, index, name).await?;
    for address in want {
        if !after.contains(address) {
            add(handle, index, name, *address).await?;
        }
    }
    Ok(())
}
