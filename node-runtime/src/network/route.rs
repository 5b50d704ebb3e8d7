//! The container's default route: set through the spec's gateway on eth0, replaced when the
//! gateway changes, removed when the spec drops it. Only default routes leaving eth0 are
//! touched; the kernel's own subnet routes follow the addresses by themselves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::NetworkError;
use super::error::errno;

/// The default routes via interface `index` in one family, with their gateways.
async fn defaults(
    handle: &Handle,
    index: u32,
    v6: bool,
) -> Result<Vec<(RouteMessage, Option<IpAddr>)>, NetworkError> {
    let query = if v6 {
        RouteMessageBuilder::<Ipv6Addr>::new().build()
    } else {
        RouteMessageBuilder::<Ipv4Addr>::new().build()
    };
    let routes: Vec<RouteMessage> = handle
        .route()
        .get(query)
        .execute()
        .try_collect()
        .await
        .map_err(NetworkError::netlink("list routes"))?;
    Ok(routes
        .into_iter()
        .filter(|r| r.header.destination_prefix_length == 0)
        .filter(|r| r.attributes.contains(&RouteAttribute::Oif(index)))
        .map(|r| {
            let gateway = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                RouteAttribute::Gateway(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                _ => None,
            });
            (r, gateway)
        })
        .collect())
}

/// Makes `gateway` the only default route via interface `index` (none when `None`).
pub async fn reconcile_default(
    handle: &Handle,
    index: u32,
    ifname: &str,
    gateway: Option<IpAddr>,
) -> Result<(), NetworkError> {
    for v6 in [false, true] {
        for (route, via) in defaults(handle, index, v6).await? {
            if via.is_some() && via == gateway {
                continue;
            }
            match handle.route().del(route).execute().await {
                Ok(()) => {}
                Err(err) if errno(&err) == Some(Errno::ESRCH as i32) => {}
                Err(source) => {
                    return Err(NetworkError::Netlink {
                        what: format!("remove default route via {via:?} on {ifname}"),
                        source,
                    });
                }
            }
        }
    }
    let Some(gateway) = gateway else {
        return Ok(());
    };
    let message = match gateway {
        IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build(),
        IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build(),
    };
    handle
        .route()
        .add(message)
        .replace()
        .execute()
        .await
        .map_err(NetworkError::netlink(format!(
            "set default route via {gateway} on {ifname}"
        )))
}
