//! Container networking: a veth pair per container between a host bridge and the container's
//! own network namespace, with the spec's addresses and default route inside, all through
//! netlink (rtnetlink). The container lifecycle (`container/`) calls the four functions here:
//! [`attach`] once the container's init runs, [`update_addresses`] for a live change,
//! [`read_live`] when observing drift, and [`detach`] on destroy.
//!
//! Layout: `plan.rs` checks a spec into values (no I/O), `netns.rs` runs netlink work on a
//! thread in the right namespace, `bridge.rs`, `veth.rs`, `address.rs` and `route.rs` each do
//! one kind of kernel object, `link.rs` holds the look-ups they share.
//!
//! The host side acts in the caller's network namespace, the container side in the one of the
//! init process given by pid. Every function is idempotent, so a retried apply converges.
//! The calls block for a few milliseconds (one thread and netlink socket per step); from async
//! code, call them through `spawn_blocking`.

mod address;
mod bridge;
mod error;
mod link;
mod netns;
mod plan;
mod route;
mod veth;

use fleet_protocol::{NetworkMode, NetworkSpec};

pub use error::NetworkError;
pub use plan::{Cidr, DEFAULT_BRIDGE, normalize};
pub use veth::{CONTAINER_IFNAME, bridge_mac, container_mac, host_name as host_veth_name};

use netns::Side;
use plan::Plan;

/// Checks a network spec without touching the kernel (for create and update): malformed
/// addresses or gateway, a bad bridge name, or addresses given without `mode: bridged`.
pub fn validate(spec: &NetworkSpec) -> Result<(), NetworkError> {
    match spec.mode {
        NetworkMode::Bridged => plan::plan(spec).map(drop),
        mode => match spec.addresses.first().or(spec.gateway.as_ref()) {
            Some(value) => Err(NetworkError::NotBridged {
                value: value.clone(),
                mode: format!("{mode:?}").to_lowercase(),
            }),
            None => Ok(()),
        },
    }
}

/// Whether going from `old` to `new` needs a new init: a change of mode or of bridge. Address
/// and gateway changes are applied live by [`update_addresses`].
pub fn needs_restart(old: &NetworkSpec, new: &NetworkSpec) -> bool {
    !fleet_protocol::effects::same_attachment(old, new)
}

/// Connects a running container to the network its spec describes.
///
/// `network: host` changes nothing (the container shares the caller's namespace);
/// `network: none` sets loopback up; `bridged` ensures the bridge (created if missing, with the
/// gateway as its host-side address), a veth pair whose peer is the container's `eth0`, the
/// addresses on eth0 and the default route. The spec is checked before anything is touched.
pub fn attach(init_pid: u32, container: &str, spec: &NetworkSpec) -> Result<(), NetworkError> {
    match spec.mode {
        NetworkMode::Host => Ok(()),
        NetworkMode::None => netns::run(Side::Container(init_pid), |handle| async move {
            loopback_up(&handle).await
        }),
        NetworkMode::Bridged => {
            let plan = plan::plan(spec)?;
            let host = veth::host_name(container);
            let has_eth0 = netns::run(Side::Container(init_pid), |handle| async move {
                Ok(link::find(&handle, CONTAINER_IFNAME).await?.is_some())
            })?;
            netns::run(Side::Host, |handle| {
                let (plan, host) = (&plan, &host);
                async move {
                    let bridge_index =
                        bridge::ensure(&handle, &plan.bridge, plan.bridge_address).await?;
                    let host_exists = link::find(&handle, host).await?.is_some();
                    if !(has_eth0 && host_exists) {
                        // A host end without its eth0 belongs to an earlier attach that did
                        // not finish: start the pair over.
                        link::delete(&handle, host).await?;
                        veth::create(&handle, host, init_pid, veth::container_mac(container))
                            .await?;
                    }
                    veth::plug(&handle, host, bridge_index, &plan.bridge).await
                }
            })?;
            configure_inside(init_pid, &plan)
        }
    }
}

/// Makes a restored container's veth pair ahead of CRIU: the bridge ensured, any stale pair
/// removed, a fresh pair made on the host with the host end plugged into the bridge and up, and
/// the container end (the container's MAC) under a temporary name, which is returned. CRIU's
/// usernsd moves that end into the restored network namespace as eth0 (`--external
/// netdev[eth0]:NAME`), which works for a namespace owned by the container's user namespace
/// too, where CRIU cannot make a veth reaching the host itself. `None` for other modes.
pub fn prepare_restore(
    container: &str,
    spec: &NetworkSpec,
) -> Result<Option<String>, NetworkError> {
    if spec.mode != NetworkMode::Bridged {
        return Ok(None);
    }
    let plan = plan::plan(spec)?;
    let host = veth::host_name(container);
    let peer = veth::restore_peer_name(container);
    netns::run(Side::Host, |handle| {
        let (plan, host, peer) = (&plan, &host, &peer);
        async move {
            let bridge_index = bridge::ensure(&handle, &plan.bridge, plan.bridge_address).await?;
            link::delete(&handle, host).await?;
            link::delete(&handle, peer).await?;
            veth::create_on_host(&handle, host, peer, veth::container_mac(container)).await?;
            veth::plug(&handle, host, bridge_index, &plan.bridge).await
        }
    })?;
    Ok(Some(peer))
}

/// Removes the container's veth pair from the host; true when there was one to remove.
///
/// The bridge stays even when this was its last container: the operator's routes, firewall
/// rules and the host-side address may refer to it, and the next container reuses it.
pub fn detach(container: &str) -> Result<bool, NetworkError> {
    let host = veth::host_name(container);
    let peer = veth::restore_peer_name(container);
    netns::run(Side::Host, |handle| {
        let (host, peer) = (&host, &peer);
        // A pair made for a restore that failed has its container end on the host too.
        async move { Ok(link::delete(&handle, host).await? | link::delete(&handle, peer).await?) }
    })
}

/// Applies a changed network spec to a running container without restarting it: eth0 is made
/// to hold exactly `new`'s addresses and default route, and the bridge gets `new`'s gateway.
///
/// A change of mode or bridge is refused with [`NetworkError::NeedsReattach`]: for a bridged
/// container, [`detach`] then [`attach`] does it live; mode `host` needs a restart.
/// The bridge keeps an old gateway address, which other containers may still use.
pub fn update_addresses(
    init_pid: u32,
    old: &NetworkSpec,
    new: &NetworkSpec,
) -> Result<(), NetworkError> {
    if old.mode != new.mode {
        return Err(NetworkError::NeedsReattach {
            from: format!("mode {:?}", old.mode).to_lowercase(),
            to: format!("mode {:?}", new.mode).to_lowercase(),
        });
    }
    if new.mode != NetworkMode::Bridged {
        return Ok(());
    }
    let plan = plan::plan(new)?;
    let old_bridge = old.bridge.as_deref().unwrap_or(DEFAULT_BRIDGE);
    if old_bridge != plan.bridge {
        return Err(NetworkError::NeedsReattach {
            from: format!("bridge {old_bridge}"),
            to: format!("bridge {}", plan.bridge),
        });
    }
    netns::run(Side::Host, |handle| {
        let plan = &plan;
        async move {
            bridge::ensure(&handle, &plan.bridge, plan.bridge_address)
                .await
                .map(drop)
        }
    })?;
    configure_inside(init_pid, &plan)
}

/// The addresses the container's eth0 holds now, as canonical sorted CIDR strings (compare
/// with [`normalize`] of the spec's list); empty when the container has no eth0.
pub fn read_live(init_pid: u32) -> Result<Vec<String>, NetworkError> {
    netns::run(Side::Container(init_pid), |handle| async move {
        let Some(eth0) = link::find(&handle, CONTAINER_IFNAME).await? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<String> = address::list(&handle, eth0.header.index, CONTAINER_IFNAME)
            .await?
            .iter()
            .map(Cidr::to_string)
            .collect();
        out.sort();
        Ok(out)
    })
}

/// Loopback up, then eth0's addresses, eth0 up, and the default route, inside the container.
fn configure_inside(init_pid: u32, plan: &Plan) -> Result<(), NetworkError> {
    netns::run(Side::Container(init_pid), |handle| async move {
        loopback_up(&handle).await?;
        let eth0 = link::find(&handle, CONTAINER_IFNAME)
            .await?
            .ok_or_else(|| NetworkError::LinkNotFound {
                name: CONTAINER_IFNAME.to_string(),
                place: Side::Container(init_pid).describe(),
            })?;
        let index = eth0.header.index;
        // This code runs on the worker thread that entered the container's namespace, and
        // /proc/sys/net follows the opening thread's namespace: this is the container's eth0.
        // With arp_notify, eth0 coming up announces its address, so neighbours that cached
        // another MAC for it (the address moved from a destroyed container) update at once.
        // Best effort: without it neighbours still recover when their entry goes stale.
        let _ = std::fs::write("/proc/sys/net/ipv4/conf/eth0/arp_notify", "1");
        address::reconcile(&handle, index, CONTAINER_IFNAME, &plan.addresses).await?;
        link::set_up(&handle, index, CONTAINER_IFNAME).await?;
        route::reconcile_default(&handle, index, CONTAINER_IFNAME, plan.gateway).await
    })
}

async fn loopback_up(handle: &rtnetlink::Handle) -> Result<(), NetworkError> {
    let lo = link::find(handle, "lo")
        .await?
        .ok_or_else(|| NetworkError::LinkNotFound {
            name: "lo".to_string(),
            place: "the container's namespace".to_string(),
        })?;
    link::set_up(handle, lo.header.index, "lo").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: NetworkMode, addresses: &[&str], bridge: Option<&str>) -> NetworkSpec {
        NetworkSpec {
            mode,
            bridge: bridge.map(str::to_string),
            addresses: addresses.iter().map(|s| s.to_string()).collect(),
            gateway: None,
        }
    }

    #[test]
    fn addresses_need_bridged_mode() {
        let err = validate(&spec(NetworkMode::None, &["10.0.0.5/24"], None)).unwrap_err();
        assert!(err.to_string().contains("mode bridged"), "{err}");
        assert!(validate(&spec(NetworkMode::Host, &[], None)).is_ok());
        assert!(validate(&spec(NetworkMode::Bridged, &["10.0.0.5/24"], None)).is_ok());
        assert!(validate(&spec(NetworkMode::Bridged, &["10.0.0.5"], None)).is_err());
    }

    #[test]
    fn only_mode_and_bridge_changes_need_a_restart() {
        let a = spec(NetworkMode::Bridged, &["10.0.0.5/24"], None);
        let b = spec(NetworkMode::Bridged, &["10.0.0.6/24"], Some("fleet0"));
        assert!(
            !needs_restart(&a, &b),
            "addresses change live; fleet0 is the default"
        );
        let c = spec(NetworkMode::Bridged, &["10.0.0.5/24"], Some("br1"));
        assert!(needs_restart(&a, &c));
        assert!(needs_restart(&a, &spec(NetworkMode::Host, &[], None)));
        assert!(!needs_restart(
            &spec(NetworkMode::None, &[], Some("x")),
            &spec(NetworkMode::None, &[], None)
        ));
    }
}
