//! The container's veth pair: the host end (named from the container, deterministic, at most
//! 15 bytes) joins the bridge; the peer is created directly inside the init process's network
//! namespace under the name `eth0`, so no temporary name ever appears on the host. Deleting the
//! host end deletes the pair; the kernel also deletes it when the container's namespace dies.

use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{Handle, LinkUnspec, LinkVeth};

use super::NetworkError;
use super::link;

/// The interface name inside every bridged container.
pub const CONTAINER_IFNAME: &str = "eth0";

/// The host-side veth name for a container: `fl` and 12 hex digits of a hash of its name.
///
/// FNV-1a is written out here rather than taken from std because std's hasher may change
/// between Rust releases, and these names must stay the same across node upgrades so that
/// `detach` finds what an older `attach` made.
pub fn host_name(container: &str) -> String {
    hashed_name("fl", container)
}

/// The MAC address of a container's eth0: locally administered, unicast, from its name.
///
/// A fixed MAC keeps neighbours' ARP entries valid across a restart (new init, new veth, same
/// address); with a random one, peers would send to the old MAC for up to a minute.
pub fn container_mac(container: &str) -> [u8; 6] {
    hashed_mac(&format!("eth0/{container}"))
}

/// The bridge's MAC address, from its name. Set explicitly so that the bridge does not take
/// the lowest MAC of its ports, which changes as containers come and go and would break the
/// containers' ARP entries for their gateway.
pub fn bridge_mac(bridge: &str) -> [u8; 6] {
    hashed_mac(&format!("bridge/{bridge}"))
}

/// `prefix` and 12 hex digits of `key`'s hash: 14 bytes, within the kernel's 15.
fn hashed_name(prefix: &str, key: &str) -> String {
    format!("{prefix}{:012x}", fnv1a(key.as_bytes()) >> 16)
}

/// A locally administered unicast MAC (first byte 0x02) from `key`'s hash.
fn hashed_mac(key: &str) -> [u8; 6] {
    let h = fnv1a(key.as_bytes()).to_be_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Creates the pair `host` / `eth0`-in-`pid`'s-namespace (with the container's MAC); the host
/// end is left down.
pub async fn create(
    handle: &Handle,
    host: &str,
    pid: u32,
    mac: [u8; 6],
) -> Result<(), NetworkError> {
    add_pair(handle, host, CONTAINER_IFNAME, mac, Some(pid)).await
}

/// The temporary name of a restore's container end while it waits on the host: `fr` and the
/// same hash as [`host_name`].
pub fn restore_peer_name(container: &str) -> String {
    hashed_name("fr", container)
}

/// Creates the pair `host` / `peer` with both ends on the host (the peer with the container's
/// MAC), for a restore: CRIU moves `peer` into the restored namespace as eth0.
pub async fn create_on_host(
    handle: &Handle,
    host: &str,
    peer: &str,
    mac: [u8; 6],
) -> Result<(), NetworkError> {
    add_pair(handle, host, peer, mac, None).await
}

/// Adds the veth pair `host` / `peer` (the peer with `mac`), the peer made directly in the
/// network namespace of `in_netns_of` (an init's PID) when given, else on the host.
async fn add_pair(
    handle: &Handle,
    host: &str,
    peer: &str,
    mac: [u8; 6],
    in_netns_of: Option<u32>,
) -> Result<(), NetworkError> {
    let mut peer_msg = LinkUnspec::new_with_name(peer).address(mac.to_vec());
    if let Some(pid) = in_netns_of {
        peer_msg = peer_msg.setns_by_pid(pid);
    }
    let message = LinkVeth::new(host, peer)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())))
        .build();
    let place = match in_netns_of {
        Some(pid) => format!("in init pid {pid}'s namespace"),
        None => "on the host".to_string(),
    };
    handle
        .link()
        .add(message)
        .execute()
        .await
        .map_err(NetworkError::netlink(format!(
            "create veth {host} with peer {peer} {place}"
        )))
}

/// Puts the host end on the bridge (if it is not already) and sets it up.
pub async fn plug(
    handle: &Handle,
    host: &str,
    bridge_index: u32,
    bridge: &str,
) -> Result<(), NetworkError> {
    let found = link::find(handle, host)
        .await?
        .ok_or_else(|| NetworkError::LinkNotFound {
            name: host.to_string(),
            place: "the host namespace".to_string(),
        })?;
    if link::controller_of(&found) != Some(bridge_index) {
        handle
            .link()
            .set(
                LinkUnspec::new_with_index(found.header.index)
                    .controller(bridge_index)
                    .build(),
            )
            .execute()
            .await
            .map_err(NetworkError::netlink(format!(
                "attach {host} to bridge {bridge}"
            )))?;
    }
    link::set_up(handle, found.header.index, host).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_short_stable_and_distinct() {
        let a = host_name("web-01");
        assert_eq!(a, host_name("web-01"));
        assert_ne!(a, host_name("web-02"));
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("fl"));
        let long = host_name(&"x".repeat(300));
        assert_eq!(long.len(), 14);
        // Pinned so a change of hash (which would orphan existing veths) fails loudly.
        assert_eq!(host_name(""), "flcbf29ce48422");
    }

    #[test]
    fn macs_are_stable_local_unicast_and_distinct() {
        for mac in [container_mac("a"), container_mac("b"), bridge_mac("fleet0")] {
            assert_eq!(
                mac[0] & 0x03,
                0x02,
                "locally administered, unicast: {mac:02x?}"
            );
        }
        assert_eq!(container_mac("a"), container_mac("a"));
        assert_ne!(container_mac("a"), container_mac("b"));
        assert_ne!(container_mac("fleet0"), bridge_mac("fleet0"));
        // Pinned, as the names are: the ARP entries of neighbours outlive a node upgrade.
        assert_eq!(
            container_mac("web-01"),
            [0x02, 0x13, 0x5d, 0x48, 0x40, 0x17]
        );
        assert_eq!(bridge_mac("fleet0"), [0x02, 0x2f, 0xed, 0xad, 0x30, 0x0b]);
    }

    #[test]
    fn restore_peer_names_share_the_host_names_hash() {
        assert_eq!(host_name("web-01"), "fl6c059e39e78a");
        assert_eq!(restore_peer_name("web-01"), "fr6c059e39e78a");
    }
}
