//! `fleet-node serve --stdio`: the protocol server the orchestrator talks to over SSH (or as a
//! local child process). Frames are length-delimited (4-byte big-endian length, tokio-util's
//! `LengthDelimitedCodec` defaults) JSON `Envelope<Request>` in, `Envelope<Response>` out.
//!
//! A malformed frame gets `Response::Error` and the server keeps serving; a hello with another
//! protocol version gets a refusal naming both versions; end of input ends the server and leaves
//! every container running. Neighbours: `container::Runtime` does the work, [`batch`] runs an
//! apply batch (reporting each action as it finishes when asked), [`hello`] describes the node,
//! [`snapshots`] answers snapshots and clones.

pub mod batch;
pub mod hello;
pub mod journal;
pub mod lock;
pub mod snapshots;

use bytes::Bytes;
use fleet_protocol::{Envelope, LockHolder, PROTOCOL_VERSION, Request, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::container::Runtime;

/// Serves stdin/stdout until end of input, on a single-threaded runtime (the container verbs
/// fork, which is simplest with no other runtime threads about).
pub fn serve_stdio(runtime: &Runtime) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(runtime, tokio::io::stdin(), tokio::io::stdout()))
}

/// Serves one session over any byte streams.
pub async fn serve<R, W>(runtime: &Runtime, input: R, output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = FramedRead::new(input, LengthDelimitedCodec::new());
    let mut writer = FramedWrite::new(output, LengthDelimitedCodec::new());
    let mut session = Session::default();
    while let Some(frame) = reader.next().await {
        let reply = match frame {
            Ok(bytes) => match session.handle(runtime, &bytes) {
                Handled::Reply(reply) => reply,
                Handled::Apply(id, batch) => session.apply(runtime, id, batch, &mut writer).await,
            },
            Err(e) => {
                // The length prefix itself is bad: framing is lost, so answer and end.
                let reply = error(0, format!("unreadable frame, closing the session: {e}"));
                writer.send(encode(reply)).await?;
                break;
            }
        };
        writer.send(encode(reply)).await?;
    }
    SinkExt::<Bytes>::flush(&mut writer).await
}

fn encode(reply: Envelope<Response>) -> Bytes {
    // A move's chunk travels raw after the JSON (`raw_frame::frame_with_raw`).
    Bytes::from(fleet_protocol::raw_frame::frame_with_raw(reply).expect("responses serialize"))
}

fn error(id: u64, message: String) -> Envelope<Response> {
    Envelope {
        id,
        body: Response::Error { message },
    }
}

/// Per-connection state: whether the client has said a valid hello, who it said it was, and the
/// apply lock once its first batch took it. The lock is kept until the session ends, so that an
/// apply sent as several waves is not interleaved with another apply between them.
#[derive(Debug, Default)]
struct Session {
    greeted: bool,
    client: String,
    lock: Option<lock::ApplyLock>,
    transfers: crate::transfer::Transfers,
}

/// What a request asks for: an answer at once, or a batch to run (which may send progress first).
enum Handled {
    Reply(Envelope<Response>),
    Apply(u64, batch::Batch),
}

impl Session {
    fn handle(&mut self, runtime: &Runtime, frame: &[u8]) -> Handled {
        let request: Envelope<Request> = match fleet_protocol::raw_frame::parse_frame(frame) {
            Ok(r) => r,
            Err(e) => {
                let json = frame.split(|&b| b == 0).next().unwrap_or_default();
                let id = serde_json::from_slice::<serde_json::Value>(json)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64())
                    .unwrap_or(0);
                return Handled::Reply(error(
                    id,
                    format!(
                        "malformed request: {e}; expected a JSON envelope {{\"id\": N, \"body\": {{\"type\": \"hello\"|\"ping\"|\"list\"|\"apply\", ...}}}}"
                    ),
                ));
            }
        };
        let id = request.id;
        let reply = |body| Handled::Reply(Envelope { id, body });
        match request.body {
            Request::Hello {
                protocol_version,
                client,
            } => {
                if protocol_version != PROTOCOL_VERSION {
                    return Handled::Reply(error(
                        id,
                        format!(
                            "protocol version {protocol_version} is not supported: this fleet-node speaks version {PROTOCOL_VERSION}; install a matching fleet-node"
                        ),
                    ));
                }
                self.greeted = true;
                self.client = client;
                reply(Response::Hello(hello::node_info(runtime)))
            }
            _ if !self.greeted => Handled::Reply(error(
                id,
                "send hello first: the session starts with a hello".into(),
            )),
            Request::Ping => reply(Response::Pong),
            Request::List { usage } => match runtime.list() {
                Ok(containers) if usage => reply(Response::List {
                    containers: containers
                        .into_iter()
                        .map(|c| runtime.with_usage(c))
                        .collect(),
                }),
                Ok(containers) => reply(Response::List { containers }),
                Err(e) => Handled::Reply(error(id, format!("list failed: {e}"))),
            },
            Request::Apply {
                fleet,
                actions,
                lock_timeout_secs,
                user,
                after,
                progress,
            } => Handled::Apply(
                id,
                batch::Batch {
                    holder: LockHolder {
                        fleet,
                        user,
                        client: self.client.clone(),
                        pid: std::process::id(),
                        since: lock::now_utc(),
                    },
                    actions,
                    after,
                    lock_timeout_secs,
                    progress,
                },
            ),
            Request::Snapshot(asked) => {
                if asked.op.changes()
                    && let Err(message) =
                        self.take_lock(runtime, &asked.fleet, &asked.user, asked.lock_timeout_secs)
                {
                    return Handled::Reply(error(id, message));
                }
                reply(snapshots::handle(runtime, asked.op))
            }
            // A move's begins (and a live one's first pre-dump round on either side) take the
            // apply lock as a batch does; the rest of the move runs under it.
            request => {
                if let Request::ExportBegin {
                    fleet,
                    lock_timeout_secs,
                    user,
                    ..
                }
                | Request::ImportBegin {
                    fleet,
                    lock_timeout_secs,
                    user,
                    ..
                }
                | Request::PreDump {
                    fleet,
                    lock_timeout_secs,
                    user,
                    ..
                }
                | Request::ImportPreDump {
                    fleet,
                    lock_timeout_secs,
                    user,
                    ..
                } = &request
                    && let Err(message) = self.take_lock(runtime, fleet, user, *lock_timeout_secs)
                {
                    return Handled::Reply(error(id, message));
                }
                reply(crate::transfer::handle(
                    runtime,
                    &mut self.transfers,
                    request,
                ))
            }
        }
    }

    /// Takes the node's apply lock for the rest of the session, unless it holds it already.
    fn take_lock(
        &mut self,
        runtime: &Runtime,
        fleet: &str,
        user: &str,
        timeout_secs: u32,
    ) -> Result<(), String> {
        if self.lock.is_some() {
            return Ok(());
        }
        let holder = LockHolder {
            fleet: fleet.to_owned(),
            user: user.to_owned(),
            client: self.client.clone(),
            pid: std::process::id(),
            since: lock::now_utc(),
        };
        let timeout = std::time::Duration::from_secs(u64::from(timeout_secs));
        let held =
            lock::acquire(runtime.store.root(), &holder, timeout).map_err(|e| e.to_string())?;
        self.lock = Some(held);
        Ok(())
    }

    /// Runs a batch under the node's apply lock (taken by the session's first batch and kept),
    /// sending a progress frame after each action when the client asked for them; returns the
    /// batch's answer.
    async fn apply<W: AsyncWrite + Unpin>(
        &mut self,
        runtime: &Runtime,
        id: u64,
        batch: batch::Batch,
        writer: &mut FramedWrite<W, LengthDelimitedCodec>,
    ) -> Envelope<Response> {
        let mut run = match batch::Run::begin(runtime, &mut self.lock, &batch) {
            Ok(run) => run,
            Err(message) => return error(id, message),
        };
        let mut report = batch.progress;
        while let Some((index, result)) = run.next(runtime, &batch) {
            if report {
                let body = Response::Progress {
                    index,
                    result: result.clone(),
                };
                // A client that went away misses its progress; the batch goes on as it would
                // without progress, and the answer's write finds the end.
                report = writer.send(encode(Envelope { id, body })).await.is_ok();
            }
        }
        Envelope {
            id,
            body: Response::Applied {
                results: run.finish(),
            },
        }
    }
}
