//! Observe: open one session per host (all hosts at once, bounded by `--parallel`), read the
//! hello and every container's live state, and keep the sessions for `apply`.
//!
//! The I/O edge before the pure stages: its output is an [`Observed`], which the scheduler
//! (observed capacities, where containers run now), the diff and the capacity reports read
//! through its queries. A host that cannot be reached, or whose node fails to answer, is recorded
//! as unreachable with the reason; the other hosts are observed as usual.

use std::collections::BTreeMap;

use fleet_protocol::{Capacity, ContainerStatus, Features, NodeInfo, Request, Response};
use futures_util::StreamExt;
use serde::Serialize;

use crate::model::{Fleet, Host};
use crate::schedule::{Amounts, Current};
use crate::transport::{ConnectOptions, NodeClient, connect};

/// What `observe` found on every host of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Host name to what was found there.
    pub hosts: BTreeMap<String, HostObservation>,
}

/// One host's observation.
// One value per host, made once per plan: boxing the hello to even out the variants would buy
// nothing but an indirection on every read.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HostObservation {
    /// The node answered.
    Reachable {
        /// Its hello, when known.
        node: Option<NodeInfo>,
        /// Every container on the node, of any fleet.
        containers: Vec<ContainerStatus>,
    },
    /// The node could not be reached or did not answer; nothing on it is touched.
    Unreachable {
        /// Why.
        error: String,
    },
}

impl Observed {
    /// Each reachable host's capacity, as its node reported it in its hello.
    pub fn capacities(&self) -> BTreeMap<String, Capacity> {
        self.reachable()
            .filter_map(|(host, node, _)| Some((host.to_owned(), node?.capacity.clone())))
            .collect()
    }

    /// Where `fleet`'s containers run now (the first host found for a name), so the scheduler
    /// leaves them there.
    pub fn current(&self, fleet: &str) -> Current {
        let mut current = Current::new();
        for (host, _, containers) in self.reachable() {
            for c in containers.iter().filter(|c| c.fleet == fleet) {
                current
                    .entry(c.name.clone())
                    .or_insert_with(|| host.to_owned());
            }
        }
        current
    }

    /// What every container on each reachable host uses, whichever fleet owns it (nodes report
    /// usage only when asked: [`observe_hosts`]).
    pub fn usage(&self) -> BTreeMap<String, Amounts> {
        self.reachable()
            .map(|(host, _, containers)| {
                let used =
                    containers
                        .iter()
                        .filter_map(|c| c.usage)
                        .fold(Amounts::default(), |sum, u| Amounts {
                            cpu: sum.cpu + u64::from(u.cpu_percent),
                            memory: sum.memory + u.memory,
                            disk: sum.disk + u.disk.unwrap_or(0),
                        });
                (host.to_owned(), used)
            })
            .collect()
    }

    /// The features `host`'s node announced in its hello, when it was observed with one.
    pub fn features(&self, host: &str) -> Option<&Features> {
        match self.hosts.get(host)? {
            HostObservation::Reachable { node, .. } => node.as_ref().map(|n| &n.features),
            HostObservation::Unreachable { .. } => None,
        }
    }

    /// The hello of `host`'s node, when it was observed with one.
    pub fn node(&self, host: &str) -> Option<&NodeInfo> {
        match self.hosts.get(host)? {
            HostObservation::Reachable { node, .. } => node.as_ref(),
            HostObservation::Unreachable { .. } => None,
        }
    }

    /// The hosts that could not be observed, with why.
    pub fn unreachable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.hosts.iter().filter_map(|(host, obs)| match obs {
            HostObservation::Unreachable { error } => Some((host.as_str(), error.as_str())),
            HostObservation::Reachable { .. } => None,
        })
    }

    fn reachable(&self) -> impl Iterator<Item = (&str, Option<&NodeInfo>, &[ContainerStatus])> {
        self.hosts.iter().filter_map(|(host, obs)| match obs {
            HostObservation::Reachable { node, containers } => {
                Some((host.as_str(), node.as_ref(), containers.as_slice()))
            }
            HostObservation::Unreachable { .. } => None,
        })
    }
}

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

/// Observes the given hosts, at most `parallel` at a time; with `usage`, also asks each node what
/// its running containers use (for density reports).
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

/// [`observe_hosts`] for a command that only reads (`get`, `capacity`, `advise`): the sessions
/// are closed before it returns.
pub async fn observe_then_close(
    hosts: &[Host],
    opts: &ConnectOptions,
    parallel: usize,
    usage: bool,
) -> Observed {
    let (observed, sessions) = observe_hosts(hosts, opts, parallel, usage).await;
    close_all(sessions).await;
    observed
}

/// Closes every session, letting each node exit.
pub async fn close_all(sessions: Sessions) {
    futures_util::future::join_all(sessions.into_values().map(NodeClient::close)).await;
}
