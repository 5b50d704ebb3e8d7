//! Networking through the real runtime: busybox containers created, updated and destroyed by
//! `Runtime` (which calls `network::attach` before init execs, `update_addresses` on update and
//! `detach` on destroy), with the node's host side inside a network namespace of the test's own.
//! Pings run inside the containers through `fleet-node exec`.

mod network_support;
mod support;

use fleet_protocol::{ContainerSpec, NetworkMode, NetworkSpec, TemplateRef};
use network_support::{TestNetns, prerequisites};
use node_runtime::Runtime;
use support::Node;

fn busybox(name: &str, addresses: &[&str]) -> ContainerSpec {
    ContainerSpec {
        network: NetworkSpec {
            mode: NetworkMode::Bridged,
            bridge: Some("fltest-e2e".to_string()),
            addresses: addresses.iter().map(|s| s.to_string()).collect(),
            gateway: Some("10.83.0.1".to_string()),
        },
        ..ContainerSpec::new(
            "nettest",
            name,
            TemplateRef::Busybox,
            vec!["sleep".into(), "infinity".into()],
        )
    }
}

/// The host side in a namespace of the test's own, and a node with its runtime; `None` where
/// the tools or the kernel's support are missing.
fn bridged_node() -> Option<(TestNetns, Node, Runtime)> {
    if !prerequisites() {
        return None;
    }
    let host = TestNetns::new();
    let node = Node::new()?;
    let runtime = node.runtime();
    Some((host, node, runtime))
}

/// Whether `ip` answers a ping sent from inside container `name`.
fn pings(node: &Node, name: &str, ip: &str) -> bool {
    (0..3).any(|_| {
        node.run(&["exec", name, "--", "ping", "-c1", "-W1", ip])
            .status
            .success()
    })
}

#[test]
fn two_busybox_containers_ping_each_other_and_change_address_live() {
    let Some((host, node, runtime)) = bridged_node() else {
        return;
    };
    // The node's work runs on a thread inside the test's namespace, so the bridge and the host
    // ends of the veths are made there and nowhere else.
    host.run(|| {
        runtime.create(&busybox("net-a", &["10.83.0.11/24"]))?;
        runtime.create(&busybox("net-b", &["10.83.0.12/24"]))
    })
    .expect("create two bridged containers");

    assert!(pings(&node, "net-a", "10.83.0.12"), "a reaches b");
    assert!(pings(&node, "net-b", "10.83.0.11"), "b reaches a");
    assert!(pings(&node, "net-a", "10.83.0.1"), "a reaches the node");
    assert!(host.ping("10.83.0.11"), "the node reaches a");
    let links = node.exec("net-a", &["cat", "/proc/net/dev"]);
    let names: Vec<&str> = links
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names.len(), 2, "only lo and eth0 inside: {links}");
    assert!(names.contains(&"lo") && names.contains(&"eth0"), "{links}");

    let pid = node.init_pid("net-a");
    let changed = host
        .run(|| runtime.update(&busybox("net-a", &["10.83.0.21/24"]), false))
        .expect("live address update without restart");
    assert!(changed);
    assert_eq!(node.init_pid("net-a"), pid, "same init after the update");
    assert!(pings(&node, "net-b", "10.83.0.21"), "new address answers");
    assert!(!host.ping("10.83.0.11"), "old address is gone");

    // A restart makes a new init in a new namespace: the old pair dies with the old namespace
    // (asynchronously in the kernel) and the new init gets a fresh one with the same name.
    host.run(|| runtime.restart("net-b", std::time::Duration::from_secs(5)))
        .expect("restart b");
    assert!(
        pings(&node, "net-a", "10.83.0.12"),
        "b answers again after restart"
    );

    host.run(|| runtime.destroy("net-a")).expect("destroy");
    let veths: Vec<String> = host
        .links()
        .into_iter()
        .filter(|(_, kind)| kind == "veth")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        veths,
        vec![node_runtime::network::host_veth_name(
            &runtime.link_key("net-b")
        )],
        "destroy removed net-a's veth, net-b's remains"
    );
}

#[test]
fn bad_network_spec_is_refused_at_create() {
    if !prerequisites() {
        return;
    }
    let Some(node) = Node::new() else { return };
    let mut spec = busybox("net-bad", &["10.83.0.50"]);
    let err = node.runtime().create(&spec).unwrap_err().to_string();
    assert!(err.contains("10.83.0.50") && err.contains("CIDR"), "{err}");
    spec.network.mode = NetworkMode::None;
    spec.network.addresses = vec!["10.83.0.50/24".into()];
    let err = node.runtime().create(&spec).unwrap_err().to_string();
    assert!(err.contains("mode bridged"), "{err}");
    assert!(
        node.runtime().store.names().unwrap().is_empty(),
        "nothing created"
    );
}

#[test]
fn privileged_container_gets_its_network_too() {
    let Some((host, node, runtime)) = bridged_node() else {
        return;
    };
    let mut spec = busybox("net-u", &["10.83.0.31/24"]);
    spec.privileged = true;
    host.run(|| runtime.create(&spec))
        .expect("create a bridged privileged container");
    assert!(host.ping("10.83.0.31"), "the node reaches it");
    assert!(pings(&node, "net-u", "10.83.0.1"), "it reaches the node");
}
