//! Reaching `fleet-node` on a host: over SSH (`ssh`) or as a local child process (`local`),
//! then the framed wire (`frame`). Host key checks live in `known_hosts`.
//!
//! `observe` and `apply` open one [`NodeClient`] per host per run through [`connect`] and send it
//! requests; nothing else in the orchestrator knows SSH or processes. The node is started as
//! `<path> --root <root> --cgroup-parent <parent> serve --stdio` from the host's
//! [`NodeSettings`].

mod closing;
pub mod exec;
pub mod frame;
pub mod install;
pub mod known_hosts;
pub mod local;
#[cfg(test)]
pub mod memory;
#[cfg(test)]
mod memory_transfer;
mod resize;
pub mod session;
pub mod ssh;
pub mod unit;

use std::time::Duration;

use fleet_protocol::{NodeInfo, Request, Response};

pub use frame::{Connection, FrameError, NodeStream, OnProgress};
pub use known_hosts::HostKeyError;
pub use session::NodeSession;

use crate::model::{Host, NodeSettings, Transport};

/// Knobs of [`connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Record unknown host keys in known_hosts instead of refusing them.
    pub accept_new_host_keys: bool,
    /// How long opening a connection (TCP, handshake, key check) may take.
    pub connect_timeout: Duration,
    /// Interval of SSH keepalives; three unanswered ones end the session.
    pub keepalive: Duration,
    /// How long one request may wait for its answer. Keepalives catch a dead connection, not
    /// a node that hangs; an apply batch that prepares templates can take minutes, so this is
    /// generous.
    pub request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(10),
            request_timeout: Duration::from_secs(900),
        }
    }
}

/// Why a host could not be reached or stopped answering.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The local node could not be started.
    #[error(
        "cannot start {program:?} for host {host}: {source}; run `fleet bootstrap` or set node.path"
    )]
    Spawn {
        /// Host name.
        host: String,
        /// Program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TCP or SSH connection failed.
    #[error("cannot connect to {host} ({addr}): {reason}")]
    Connect {
        /// Host name.
        host: String,
        /// Address and port.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Opening the connection took too long.
    #[error("connecting to {host} ({addr}) timed out after {secs}s")]
    Timeout {
        /// Host name.
        host: String,
        /// Address and port.
        addr: String,
        /// Timeout.
        secs: u64,
    },
    /// The node did not answer a request in time; the session is no longer usable.
    #[error("fleet-node on {host} did not answer within {secs}s; the session was abandoned")]
    NoAnswer {
        /// Host name.
        host: String,
        /// Timeout.
        secs: u64,
    },
    /// The host key was refused.
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    /// No key was accepted.
    #[error("cannot log in to {host} as {user}: tried {tried}")]
    Auth {
        /// Host name.
        host: String,
        /// Login user.
        user: String,
        /// Keys tried and what happened.
        tried: String,
    },
    /// An argument cannot be passed to a remote shell.
    #[error("argument {0:?} contains a NUL byte and cannot be passed over SSH")]
    BadArgument(String),
    /// The session opened but the wire failed.
    #[error("fleet-node on {host}: {source}")]
    Wire {
        /// Host name.
        host: String,
        /// What failed.
        source: FrameError,
    },
}

impl TransportError {
    /// Whether trying once more might help (the connection did not open; not a refusal).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. } | TransportError::Timeout { .. }
        )
    }
}

/// What keeps a session's other end alive.
enum Keep {
    Child(#[allow(dead_code)] tokio::process::Child),
    Ssh(#[allow(dead_code)] Box<russh::client::Handle<ssh::Verifier>>),
    /// An in-memory stream (unit tests).
    #[cfg(test)]
    Nothing,
}

/// An open session with one host's node, after the hello.
pub struct NodeClient {
    /// Host name.
    pub host: String,
    conn: Connection,
    keep: Keep,
    request_timeout: Duration,
}

impl NodeClient {
    /// The node's hello.
    pub fn info(&self) -> &NodeInfo {
        &self.conn.info
    }

    /// Sends one request and waits for its response.
    pub async fn call(&mut self, request: Request) -> Result<Response, TransportError> {
        self.call_with_progress(request, &|_, _| {}).await
    }

    /// Sends one request and waits for its response, handing each progress report the node
    /// sends before it to `progress`. The request timeout bounds the whole exchange.
    pub async fn call_with_progress(
        &mut self,
        request: Request,
        progress: &OnProgress<'_>,
    ) -> Result<Response, TransportError> {
        let exchange = self.conn.call(request, progress);
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(answer) => answer.map_err(|source| TransportError::Wire {
                host: self.host.clone(),
                source,
            }),
            Err(_) => Err(TransportError::NoAnswer {
                host: self.host.clone(),
                secs: self.request_timeout.as_secs(),
            }),
        }
    }

    /// Ends the session: closes the node's input so it exits, then waits briefly for it.
    pub async fn close(self) {
        self.conn.close().await;
        match self.keep {
            Keep::Child(mut child) => {
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            }
            Keep::Ssh(handle) => {
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "done", "en")
                    .await;
            }
            #[cfg(test)]
            Keep::Nothing => {}
        }
    }
}

/// `fleet-node --root R --cgroup-parent P` for a host's node, before the verb.
pub fn node_command(node: &NodeSettings) -> Vec<String> {
    vec![
        node.path.clone(),
        "--root".into(),
        node.root.clone(),
        "--cgroup-parent".into(),
        node.cgroup_parent.clone(),
    ]
}

/// The node's command line for a host's protocol session (`serve --stdio`).
pub fn node_argv(node: &NodeSettings) -> Vec<String> {
    let mut argv = node_command(node);
    argv.extend(["serve".into(), "--stdio".into()]);
    argv
}

/// Opens a session with `host`'s node and exchanges the hello.
pub async fn connect(host: &Host, opts: &ConnectOptions) -> Result<NodeClient, TransportError> {
    let argv = node_argv(&host.node);
    let (stream, stderr, keep) = match &host.transport {
        Transport::Local => {
            let s = local::spawn(&host.name, &argv)?;
            (s.stream, s.stderr, Keep::Child(s.child))
        }
        Transport::Ssh(target) => {
            let s = ssh::open(&host.name, target, &argv, opts).await?;
            (s.stream, s.stderr, Keep::Ssh(Box::new(s.handle)))
        }
    };
    let hello = tokio::time::timeout(opts.connect_timeout, Connection::open(stream, stderr)).await;
    let conn = match hello {
        Ok(Ok(conn)) => conn,
        Ok(Err(source)) => {
            return Err(TransportError::Wire {
                host: host.name.clone(),
                source,
            });
        }
        Err(_) => {
            return Err(TransportError::Timeout {
                host: host.name.clone(),
                addr: "hello".into(),
                secs: opts.connect_timeout.as_secs(),
            });
        }
    };
    Ok(NodeClient {
        host: host.name.clone(),
        conn,
        keep,
        request_timeout: opts.request_timeout,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use fleet_protocol::{Envelope, NodeInfo, PROTOCOL_VERSION};
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LengthDelimitedCodec};

    use super::*;

    // A node that answers the hello and then never again: only the timeout is under test.
    async fn silent_node(stream: tokio::io::DuplexStream) {
        let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
        let Some(Ok(frame)) = framed.next().await else {
            return;
        };
        let env: Envelope<Request> = serde_json::from_slice(&frame).unwrap();
        let info = NodeInfo {
            protocol_version: PROTOCOL_VERSION,
            node_version: "0".into(),
            hostname: "silent".into(),
            kernel: "6".into(),
            cgroup_version: 1,
            features: Default::default(),
            capacity: Default::default(),
            interrupted_batch: None,
            supervisor: None,
        };
        let out = serde_json::to_vec(&Envelope {
            id: env.id,
            body: Response::Hello(info),
        })
        .unwrap();
        framed.send(Bytes::from(out)).await.unwrap();
        while framed.next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_node_that_stops_answering_times_out() {
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(silent_node(b));
        let conn = Connection::open(Box::new(a), Default::default())
            .await
            .unwrap();
        let mut client = NodeClient {
            host: "h".into(),
            conn,
            keep: Keep::Nothing,
            request_timeout: Duration::from_millis(200),
        };
        let err = client.call(Request::Ping).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "fleet-node on h did not answer within 0s; the session was abandoned"
        );
    }
}
