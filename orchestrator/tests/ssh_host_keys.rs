//! Host key verification against real OpenSSH servers: a wrong key is refused with a warning, an
//! unknown one is refused unless new keys are accepted (then recorded), a pinned key works, and a
//! host without fleet-node says to bootstrap.

mod support;

use fleet::model::{Host, HostKeyPolicy};
use fleet::transport::{ConnectOptions, HostKeyError, TransportError, connect};
use support::sshd::Cluster;

fn opts(accept_new: bool) -> ConnectOptions {
    ConnectOptions {
        accept_new_host_keys: accept_new,
        ..ConnectOptions::default()
    }
}

/// The error `connect` fails with; `why` says why it must fail.
async fn refused(host: &Host, accept_new: bool, why: &str) -> TransportError {
    connect(host, &opts(accept_new)).await.err().expect(why)
}

#[tokio::test]
async fn wrong_host_key_is_refused_even_with_accept_new() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    // known_hosts says node-0's address has node-1's key.
    let wrong = cluster.dir.path().join("wrong_known_hosts");
    let s0 = &cluster.sshds[0];
    std::fs::write(
        &wrong,
        format!(
            "[{}]:{} {}\n",
            s0.address, s0.port, cluster.sshds[1].host_key
        ),
    )
    .unwrap();
    let node = support::sshd::fleet_node().unwrap().display().to_string();
    let host = cluster.host(
        0,
        HostKeyPolicy::KnownHosts {
            path: Some(wrong.clone()),
        },
        &node,
    );
    let err = refused(&host, true, "must refuse").await;
    assert!(
        matches!(
            err,
            TransportError::HostKey(HostKeyError::Changed { line: 1, .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("WARNING: host key of node-0"),
        "{err}"
    );
    // Nothing was appended.
    assert_eq!(std::fs::read_to_string(&wrong).unwrap().lines().count(), 1);

    let pinned = cluster.host(
        0,
        HostKeyPolicy::Pinned {
            key: cluster.sshds[1].host_key.clone(),
        },
        &node,
    );
    let err = refused(&pinned, true, "must refuse").await;
    assert!(
        matches!(
            err,
            TransportError::HostKey(HostKeyError::PinnedMismatch { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_host_key_is_refused_without_the_flag_and_recorded_with_it() {
    let Some(cluster) = Cluster::start_if_ready(1) else {
        return;
    };
    let empty = cluster.dir.path().join("empty_known_hosts");
    // A binary that does not exist: the key check happens before anything runs, and once it
    // passes, the missing node must be reported with the way out.
    let host = cluster.host(
        0,
        HostKeyPolicy::KnownHosts {
            path: Some(empty.clone()),
        },
        "/nonexistent/fleet-node",
    );
    let err = refused(&host, false, "must refuse").await;
    assert!(
        matches!(err, TransportError::HostKey(HostKeyError::Unknown { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("--accept-new-host-keys"), "{err}");
    assert!(!empty.exists());

    let err = refused(&host, true, "no node there").await;
    let recorded = std::fs::read_to_string(&empty).unwrap();
    let s = &cluster.sshds[0];
    assert_eq!(
        recorded,
        format!("[{}]:{} {}\n", s.address, s.port, key_only(&s.host_key))
    );
    assert!(err.to_string().contains("fleet bootstrap"), "{err}");
}

#[tokio::test]
async fn hello_over_ssh_reaches_each_node() {
    let Some(cluster) = Cluster::start_if_ready(3) else {
        return;
    };
    let mut pinned = cluster.hosts();
    let node = support::sshd::fleet_node().unwrap().display().to_string();
    pinned[2] = cluster.host(
        2,
        HostKeyPolicy::Pinned {
            key: cluster.sshds[2].host_key.clone(),
        },
        &node,
    );
    for host in &pinned {
        let client = connect(host, &opts(false))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", host.name));
        assert_eq!(
            client.info().protocol_version,
            fleet_protocol::PROTOCOL_VERSION
        );
        assert!(!client.info().kernel.is_empty());
        client.close().await;
    }
}

fn key_only(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
