//! `fleet-node serve --stdio`: the protocol server the orchestrator talks to over SSH (or as a
//! local child process). Frames are length-delimited (4-byte big-endian length, tokio-util's
//! `LengthDelimitedCodec` defaults) JSON `Envelope<Request>` in, `Envelope<Response>` out.
//!
//! A malformed frame gets `Response::Error` and the server keeps serving; a hello with another
//! protocol version gets a refusal naming both versions; end of input ends the server and leaves
//! every container running. Neighbours: `container::Runtime` does the work, [`hello`] describes
//! the node.

pub mod hello;
pub mod journal;
pub mod lock;

use bytes::Bytes;
use fleet_protocol::{
    Action, ActionOutcome, ActionResult, Envelope, LockHolder, PROTOCOL_VERSION, Request, Response,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::container::Runtime;
use crate::error::Error;

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
            Ok(bytes) => session.handle(runtime, &bytes),
            Err(e) => {
                // The length prefix itself is bad: framing is lost, so answer and end.
                let reply = error(0, format!("unreadable frame, closing the session: {e}"));
                writer.send(encode(&reply)).await?;
                break;
            }
        };
        writer.send(encode(&reply)).await?;
    }
    SinkExt::<Bytes>::flush(&mut writer).await
}

fn encode(reply: &Envelope<Response>) -> Bytes {
    Bytes::from(serde_json::to_vec(reply).expect("responses serialize"))
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
}

impl Session {
    fn handle(&mut self, runtime: &Runtime, frame: &[u8]) -> Envelope<Response> {
        let request: Envelope<Request> = match serde_json::from_slice(frame) {
            Ok(r) => r,
            Err(e) => {
                let id = serde_json::from_slice::<serde_json::Value>(frame)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64())
                    .unwrap_or(0);
                return error(
                    id,
                    format!(
                        "malformed request: {e}; expected a JSON envelope {{\"id\": N, \"body\": {{\"type\": \"hello\"|\"ping\"|\"list\"|\"apply\", ...}}}}"
                    ),
                );
            }
        };
        let id = request.id;
        let body = match request.body {
            Request::Hello {
                protocol_version,
                client,
            } => {
                if protocol_version != PROTOCOL_VERSION {
                    return error(
                        id,
                        format!(
                            "protocol version {protocol_version} is not supported: this fleet-node speaks version {PROTOCOL_VERSION}; install a matching fleet-node"
                        ),
                    );
                }
                self.greeted = true;
                self.client = client;
                Response::Hello(hello::node_info(runtime))
            }
            _ if !self.greeted => {
                return error(
                    id,
                    "send hello first: the session starts with a hello".into(),
                );
            }
            Request::Ping => Response::Pong,
            Request::List { usage } => match runtime.list() {
                Ok(containers) if usage => Response::List {
                    containers: containers
                        .into_iter()
                        .map(|c| runtime.with_usage(c))
                        .collect(),
                },
                Ok(containers) => Response::List { containers },
                Err(e) => return error(id, format!("list failed: {e}")),
            },
            Request::Apply {
                fleet,
                actions,
                lock_timeout_secs,
                user,
            } => {
                let holder = LockHolder {
                    fleet,
                    user,
                    client: self.client.clone(),
                    pid: std::process::id(),
                    since: lock::now_utc(),
                };
                match apply_batch(
                    runtime,
                    &mut self.lock,
                    &holder,
                    &actions,
                    lock_timeout_secs,
                ) {
                    Ok(results) => Response::Applied { results },
                    Err(message) => return error(id, message),
                }
            }
        };
        Envelope { id, body }
    }
}

/// Runs a batch under the node's apply lock (taken by the session's first batch and kept),
/// journaled so that a batch cut off midway is reported by the next session's hello.
fn apply_batch(
    runtime: &Runtime,
    held: &mut Option<lock::ApplyLock>,
    holder: &LockHolder,
    actions: &[Action],
    lock_timeout_secs: u32,
) -> Result<Vec<ActionResult>, String> {
    let root = runtime.store.root();
    if held.is_none() {
        let timeout = std::time::Duration::from_secs(u64::from(lock_timeout_secs));
        *held = Some(lock::acquire(root, holder, timeout).map_err(|e| e.to_string())?);
    }
    let mut journal = journal::Running::begin(root, holder, actions).map_err(|e| {
        format!(
            "failed to write the apply journal {}: {e}",
            journal::path(root).display()
        )
    })?;
    let mut results = Vec::with_capacity(actions.len());
    for action in actions {
        results.push(apply_one(runtime, action));
        journal.advance(results.len());
    }
    Ok(results)
}

/// Runs one action; an error becomes a `Failed` result and the batch goes on.
pub fn apply_one(runtime: &Runtime, action: &Action) -> ActionResult {
    let result = match action {
        Action::Create { spec } => runtime.create(spec),
        Action::Start { name } => runtime.start(name),
        Action::Stop { name, timeout_secs } => runtime.stop(
            name,
            std::time::Duration::from_secs(u64::from(*timeout_secs)),
        ),
        Action::Update {
            spec,
            allow_restart,
        } => runtime.update(spec, *allow_restart),
        Action::Destroy { name } => runtime.destroy(name),
    };
    ActionResult {
        container: action.container().to_owned(),
        outcome: match result {
            Ok(changed) => ActionOutcome::Done { changed },
            Err(e) => ActionOutcome::Failed {
                needs_restart: matches!(e, Error::NeedsRestart { .. }),
                error: e.to_string(),
            },
        },
    }
}
