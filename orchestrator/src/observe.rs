//! Observe: open one session per host (all hosts at once, bounded by `--parallel`), read the
//! hello and every container's live state, and keep the sessions for `apply`.
//!
//! The I/O edge before the pure `diff`: its output is a [`crate::diff::Observed`]. A host that
//! cannot be reached, or whose node fails to answer, is recorded as unreachable with the reason;
//! the other hosts are observed as usual.

use std::collections::BTreeMap;

use fleet_protocol::{Request, Response};
use futures_util::StreamExt;

use crate::diff::{HostObservation, Observed};
use crate::model::{Fleet, Host};
use crate::transport::{ConnectOptions, NodeClient, connect};

/// Open sessions by host name; one per host per run.
pub type Sessions = BTreeMap<String, NodeClient>;

/// Observes every host of `fleet`, at most `parallel` at a time.
pub async fn observe(
    fleet: &Fleet,
    opts: &ConnectOptions,
    parallel: usize,
) -> (Observed, Sessions) {
    observe_hosts(&fleet.hosts, opts, parallel, false).await
}

/// [`observe`], also asking each node what its running containers use (for density reports).
pub async fn observe_usage(
    fleet: &Fleet,
    opts: &ConnectOptions,
    parallel: usize,
) -> (Observed, Sessions) {
    observe_hosts(&fleet.hosts, opts, parallel, true).await
}

/// Observes the given hosts, at most `parallel` at a time.
pub async fn observe_hosts(
    hosts: &[Host],
    opts: &ConnectOptions,
    parallel: usize,
    usage: bool,
) -> (Observed, Sessions) {
    let mut results = futures_util::stream::iter(hosts.iter().map(|h| observe_one(h, opts, usage)))
        .buffer_unordered(parallel.max(1));
    let mut observed = Observed::default();
    let mut sessions = Sessions::new();
    while let Some((name, obs, client)) = results.next().await {
        observed.hosts.insert(name.clone(), obs);
        if let Some(c) = client {
            sessions.insert(name, c);
        }
    }
    (observed, sessions)
}

async fn observe_one(
    host: &Host,
    opts: &ConnectOptions,
    usage: bool,
) -> (String, HostObservation, Option<NodeClient>) {
    let unreachable = |error: String| HostObservation::Unreachable { error };
    let mut client = match connect(host, opts).await {
        Ok(c) => c,
        Err(e) => return (host.name.clone(), unreachable(e.to_string()), None),
    };
    match client.call(Request::List { usage }).await {
        Ok(Response::List { containers }) => {
            let node = Some(client.info().clone());
            (
                host.name.clone(),
                HostObservation::Reachable { node, containers },
                Some(client),
            )
        }
        Ok(Response::Error { message }) => (
            host.name.clone(),
            unreachable(format!(
                "the node refused to list its containers: {message}"
            )),
            None,
        ),
        Ok(other) => (
            host.name.clone(),
            unreachable(format!("the node answered List with {other:?}")),
            None,
        ),
        Err(e) => (host.name.clone(), unreachable(e.to_string()), None),
    }
}

/// Closes every session, letting each node exit.
pub async fn close_all(sessions: Sessions) {
    futures_util::future::join_all(sessions.into_values().map(NodeClient::close)).await;
}
