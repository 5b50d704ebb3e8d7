//! Container networking against the real kernel: bridge, veth pairs, addresses and routes made
//! by `node_runtime::network`, observed with `ip` and busybox `ping`. Each test runs the host
//! side inside a network namespace it creates and removes (see `network_support`), with
//! `unshare --net sleep` processes standing in for container inits.

mod network_support;

use fleet_protocol::{NetworkMode, NetworkSpec};
use network_support::{FakeContainer, TestNetns, prerequisites};
use node_runtime::network;

fn bridged(addresses: &[&str], gateway: Option<&str>) -> NetworkSpec {
    NetworkSpec {
        mode: NetworkMode::Bridged,
        bridge: None,
        addresses: addresses.iter().map(|s| s.to_string()).collect(),
        gateway: gateway.map(str::to_string),
    }
}

/// The test's own "host" network namespace, or `None` after saying what is missing.
fn host_netns() -> Option<TestNetns> {
    prerequisites().then(TestNetns::new)
}

/// Two stand-in containers attached on `host` with these names and specs.
fn attach_two(
    host: &TestNetns,
    a: (&str, NetworkSpec),
    b: (&str, NetworkSpec),
) -> (FakeContainer, FakeContainer) {
    let (ca, cb) = (FakeContainer::start(), FakeContainer::start());
    host.run(|| {
        network::attach(ca.pid(), a.0, &a.1)?;
        network::attach(cb.pid(), b.0, &b.1)
    })
    .expect("attach both");
    (ca, cb)
}

fn names(links: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = links.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names
}

fn veths(ns: &TestNetns) -> Vec<String> {
    ns.links()
        .into_iter()
        .filter(|(_, kind)| kind == "veth")
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn two_containers_reach_each_other_and_the_host() {
    let Some(host) = host_netns() else { return };
    let (a, b) = attach_two(
        &host,
        ("web-a", bridged(&["10.77.0.11/24"], Some("10.77.0.1"))),
        ("web-b", bridged(&["10.77.0.12/24"], Some("10.77.0.1"))),
    );

    assert!(a.ping("10.77.0.12"), "a reaches b");
    assert!(b.ping("10.77.0.11"), "b reaches a");
    assert!(host.ping("10.77.0.11"), "host reaches a");
    assert!(host.ping("10.77.0.12"), "host reaches b");
    assert!(
        a.ping("10.77.0.1"),
        "a reaches its gateway, the host's bridge address"
    );
    assert!(
        a.routes().contains("default via 10.77.0.1 dev eth0"),
        "{}",
        a.routes()
    );

    let links = host.links();
    assert!(
        links.contains(&("fleet0".to_string(), "bridge".to_string())),
        "default bridge made in the test's namespace: {links:?}"
    );
    let mut want = vec![
        network::host_veth_name("web-a"),
        network::host_veth_name("web-b"),
    ];
    want.sort();
    let mut got = veths(&host);
    got.sort();
    assert_eq!(got, want, "one host-side veth per container, named from it");
    assert_eq!(
        network::read_live(a.pid()).unwrap(),
        vec!["10.77.0.11/24".to_string()]
    );
}

#[test]
fn container_sees_only_lo_and_eth0() {
    let Some(host) = host_netns() else { return };
    // Something on the "host" side that must stay invisible to the container.
    let c = FakeContainer::start();
    let spec = NetworkSpec {
        bridge: Some("fltest1".to_string()),
        ..bridged(&["10.78.0.5/24", "10.78.1.5/24"], Some("10.78.0.1"))
    };
    host.run(|| network::attach(c.pid(), "db-1", &spec))
        .expect("attach");

    assert_eq!(names(&c.links()), vec!["eth0", "lo"]);
    let addrs = c.addresses();
    assert!(
        addrs.contains("lo    inet 127.0.0.1/8"),
        "loopback up: {addrs}"
    );
    assert!(addrs.contains("eth0    inet 10.78.0.5/24"), "{addrs}");
    assert!(addrs.contains("eth0    inet 10.78.1.5/24"), "{addrs}");
    assert!(c.ping("127.0.0.1"), "loopback answers");
    let mac = network_support::mac_text(network::container_mac("db-1"));
    assert!(
        c.link_text().contains(&format!("link/ether {mac}")),
        "eth0 has the MAC derived from the container name ({mac}): {}",
        c.link_text()
    );
    assert_eq!(c.sysctl("net/ipv4/conf/eth0/arp_notify"), "1");
    let host_links = names(&host.links());
    assert!(
        host_links.contains(&"fltest1".to_string()),
        "bridge name from the spec: {host_links:?}"
    );
    assert!(!host_links.contains(&"eth0".to_string()), "{host_links:?}");
}

#[test]
fn detach_leaves_no_veth_and_keeps_the_bridge() {
    let Some(host) = host_netns() else { return };
    let c = FakeContainer::start();
    host.run(|| network::attach(c.pid(), "gone-1", &bridged(&["10.79.0.5/24"], None)))
        .expect("attach");
    assert_eq!(veths(&host).len(), 1);

    assert!(host.run(|| network::detach("gone-1")).expect("detach"));
    assert_eq!(
        veths(&host),
        Vec::<String>::new(),
        "no veth on the host side"
    );
    assert_eq!(names(&c.links()), vec!["lo"], "eth0 went with its pair");
    assert!(
        names(&host.links()).contains(&"fleet0".to_string()),
        "the bridge stays (documented)"
    );
    assert!(
        !host
            .run(|| network::detach("gone-1"))
            .expect("detach again"),
        "detach is idempotent"
    );
    assert_eq!(network::read_live(c.pid()).unwrap(), Vec::<String>::new());
}

#[test]
fn live_address_change_keeps_the_same_init() {
    let Some(host) = host_netns() else { return };
    let mut c = FakeContainer::start();
    let (pid, ns) = (c.pid(), c.ns_id());
    let old = bridged(&["10.80.0.21/24"], Some("10.80.0.1"));
    host.run(|| network::attach(pid, "live-1", &old))
        .expect("attach");
    assert!(host.ping("10.80.0.21"));

    let new = bridged(&["10.80.0.22/24", "10.80.0.23/24"], Some("10.80.0.1"));
    host.run(|| network::update_addresses(pid, &old, &new))
        .expect("update");
    assert!(host.ping("10.80.0.22"), "new address answers");
    assert!(host.ping("10.80.0.23"), "second new address answers");
    assert!(!host.ping("10.80.0.21"), "old address is gone");
    assert_eq!(
        network::read_live(pid).unwrap(),
        vec!["10.80.0.22/24".to_string(), "10.80.0.23/24".to_string()]
    );
    assert!(
        c.routes().contains("default via 10.80.0.1 dev eth0"),
        "default route survives the primary's removal: {}",
        c.routes()
    );
    assert!(c.alive(), "init still runs");
    assert_eq!(c.pid(), pid);
    assert_eq!(c.ns_id(), ns, "same network namespace");
}

#[test]
fn attach_twice_converges_to_one_pair() {
    let Some(host) = host_netns() else { return };
    let c = FakeContainer::start();
    let spec = bridged(&["10.81.0.5/24"], Some("10.81.0.1"));
    host.run(|| {
        network::attach(c.pid(), "again-1", &spec)?;
        network::attach(c.pid(), "again-1", &spec)
    })
    .expect("attach twice");
    assert_eq!(veths(&host).len(), 1);
    assert_eq!(names(&c.links()), vec!["eth0", "lo"]);
    assert!(host.ping("10.81.0.5"));
}

#[test]
fn bad_spec_is_refused_before_anything_changes() {
    let Some(host) = host_netns() else { return };
    let c = FakeContainer::start();
    let err = host
        .run(|| {
            network::attach(
                c.pid(),
                "bad-1",
                &bridged(&["10.82.0.5/24"], Some("10.99.0.1")),
            )
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("10.99.0.1") && err.contains("outside"),
        "{err}"
    );
    let err = host
        .run(|| network::attach(c.pid(), "bad-1", &bridged(&["10.82.0.5"], None)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"10.82.0.5\"") && err.contains("CIDR"),
        "{err}"
    );
    assert_eq!(names(&host.links()), vec!["lo"], "no bridge, no veth made");
    assert_eq!(names(&c.links()), vec!["lo"]);
}

#[test]
fn mode_none_brings_loopback_up_only() {
    let Some(host) = host_netns() else { return };
    let c = FakeContainer::start();
    host.run(|| network::attach(c.pid(), "lonely-1", &NetworkSpec::default()))
        .expect("attach none");
    assert!(c.ping("127.0.0.1"));
    assert_eq!(names(&c.links()), vec!["lo"]);
    assert_eq!(
        names(&host.links()),
        vec!["lo"],
        "nothing made on the host side"
    );
    let err = network::update_addresses(c.pid(), &NetworkSpec::default(), &bridged(&[], None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("detach and attach"), "{err}");
}

#[test]
fn ipv6_addresses_and_gateway_work_beside_ipv4() {
    let Some(host) = host_netns() else { return };
    let (a, _b) = attach_two(
        &host,
        (
            "six-a",
            bridged(&["fd77::11/64", "10.84.0.11/24"], Some("fd77::1")),
        ),
        ("six-b", bridged(&["fd77::12/64"], Some("fd77::1"))),
    );
    assert!(a.ping("fd77::12"), "a reaches b over IPv6");
    assert!(host.ping("fd77::11"), "host reaches a over IPv6");
    assert!(
        a.routes_v6().contains("default via fd77::1 dev eth0"),
        "{}",
        a.routes_v6()
    );
    assert_eq!(
        network::read_live(a.pid()).unwrap(),
        vec!["10.84.0.11/24".to_string(), "fd77::11/64".to_string()]
    );
}
