//! The client side of the wire: length-delimited frames (4-byte big-endian length) of JSON
//! envelopes over any byte stream, the hello that opens a session, and request/response pairing
//! by id.
//!
//! The byte stream comes from `local` (a child's stdin/stdout) or `ssh` (a channel); this module
//! does not know which. The message types are `fleet_protocol::message`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fleet_protocol::{ActionResult, Envelope, NodeInfo, PROTOCOL_VERSION, Request, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// Largest frame accepted: a `List` of a few thousand containers fits with room to spare.
pub const MAX_FRAME: usize = 64 << 20;

/// What is told of each action of a batch as the node reports it finished: its position in the
/// batch and its result.
pub type OnProgress<'a> = dyn Fn(u32, &ActionResult) + Send + Sync + 'a;

/// A byte stream a node session runs over.
pub trait NodeStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> NodeStream for T {}

/// The last bytes a node wrote to stderr, kept to explain a session that ended early.
pub type StderrTail = Arc<Mutex<String>>;

/// Keeps at most this many bytes of a node's stderr.
const STDERR_KEEP: usize = 4096;

/// Appends to a [`StderrTail`], dropping the oldest bytes beyond its limit.
pub fn push_stderr(tail: &StderrTail, bytes: &[u8]) {
    if let Ok(mut t) = tail.lock() {
        t.push_str(&String::from_utf8_lossy(bytes));
        if t.len() > STDERR_KEEP {
            let mut cut = t.len() - STDERR_KEEP;
            while !t.is_char_boundary(cut) {
                cut += 1;
            }
            t.drain(..cut);
        }
    }
}

/// Why a framed exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Reading or writing the stream failed.
    #[error("i/o on the node session failed: {0}")]
    Io(#[from] std::io::Error),
    /// The node closed the session; `stderr` is what it wrote last.
    #[error("the node closed the session{}", stderr_suffix(.stderr))]
    Closed {
        /// The node's last stderr output.
        stderr: String,
    },
    /// A frame did not hold a valid response.
    #[error("the node sent a frame that is not a valid response: {0}")]
    Decode(serde_json::Error),
    /// The response's id is not the request's.
    #[error("the node answered request {got} while request {want} was pending")]
    WrongId {
        /// Id sent.
        want: u64,
        /// Id received.
        got: u64,
    },
    /// The node refused the hello.
    #[error("the node refused the session: {0}")]
    Refused(String),
    /// The node speaks another protocol version.
    #[error(
        "the node speaks protocol {node} (fleet-node {version}) but this fleet speaks {ours}; \
         run `fleet bootstrap` to install a matching fleet-node"
    )]
    Version {
        /// The node's version.
        node: u32,
        /// The node's binary version.
        version: String,
        /// Ours.
        ours: u32,
    },
    /// The hello was answered with something else.
    #[error("the node answered the hello with {0}")]
    Unexpected(String),
}

fn stderr_suffix(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("; it said: {t}")
    }
}

/// One session with a node after a successful hello.
pub struct Connection {
    framed: Framed<Box<dyn NodeStream>, LengthDelimitedCodec>,
    next_id: u64,
    stderr: StderrTail,
    /// What the node said about itself.
    pub info: NodeInfo,
}

impl Connection {
    /// Sends the hello over `stream` and waits for the node's.
    pub async fn open(stream: Box<dyn NodeStream>, stderr: StderrTail) -> Result<Self, FrameError> {
        let codec = LengthDelimitedCodec::builder()
            .max_frame_length(MAX_FRAME)
            .new_codec();
        let mut conn = Connection {
            framed: Framed::new(stream, codec),
            next_id: 0,
            stderr,
            info: NodeInfo {
                protocol_version: 0,
                node_version: String::new(),
                hostname: String::new(),
                kernel: String::new(),
                cgroup_version: 0,
                features: Default::default(),
                capacity: Default::default(),
                interrupted_batch: None,
                supervisor: None,
            },
        };
        let hello = Request::Hello {
            protocol_version: PROTOCOL_VERSION,
            client: format!("fleet {}", env!("CARGO_PKG_VERSION")),
        };
        match conn.call(hello, &|_, _| {}).await? {
            Response::Hello(info) if info.protocol_version == PROTOCOL_VERSION => {
                conn.info = info;
                Ok(conn)
            }
            Response::Hello(info) => Err(FrameError::Version {
                node: info.protocol_version,
                version: info.node_version,
                ours: PROTOCOL_VERSION,
            }),
            Response::Error { message } => Err(FrameError::Refused(message)),
            other => Err(FrameError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Sends one request and waits for its response, handing each [`Response::Progress`] the
    /// node sends before it (an `Apply` that asked for progress) to `progress`; other requests
    /// pass a no-op.
    pub async fn call(
        &mut self,
        body: Request,
        progress: &OnProgress<'_>,
    ) -> Result<Response, FrameError> {
        let id = self.next_id;
        self.next_id += 1;
        // A move's chunk travels raw after the JSON (`raw_frame::frame_with_raw`).
        let bytes = fleet_protocol::raw_frame::frame_with_raw(Envelope { id, body })
            .map_err(FrameError::Decode)?;
        if let Err(e) = self.framed.send(Bytes::from(bytes)).await {
            return Err(self.closed_or(e));
        }
        loop {
            let frame = match self.framed.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(self.closed_or(e)),
                None => return Err(self.closed()),
            };
            let env: Envelope<Response> =
                fleet_protocol::raw_frame::parse_frame(&frame).map_err(FrameError::Decode)?;
            if env.id != id {
                return Err(FrameError::WrongId {
                    want: id,
                    got: env.id,
                });
            }
            match env.body {
                Response::Progress { index, result } => progress(index, &result),
                body => return Ok(body),
            }
        }
    }

    /// Closes the writing side so the node sees end of input and exits.
    pub async fn close(mut self) {
        let _ = SinkExt::<Bytes>::close(&mut self.framed).await;
    }

    fn closed(&self) -> FrameError {
        FrameError::Closed {
            stderr: self.stderr.lock().map(|s| s.clone()).unwrap_or_default(),
        }
    }

    fn closed_or(&self, e: std::io::Error) -> FrameError {
        use std::io::ErrorKind::*;
        match e.kind() {
            BrokenPipe | UnexpectedEof | ConnectionReset | ConnectionAborted => self.closed(),
            _ => FrameError::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A fake node: only the framing is under test here; the real node is tested end to end in
    // tests/ssh_*.rs and tests/apply_*.rs.
    async fn fake_node(stream: tokio::io::DuplexStream, version: u32) {
        let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
        while let Some(Ok(frame)) = framed.next().await {
            let env: Envelope<Request> = serde_json::from_slice(&frame).unwrap();
            let body = match env.body {
                Request::Hello { .. } => Response::Hello(NodeInfo {
                    protocol_version: version,
                    node_version: "0.0.0".into(),
                    hostname: "fake".into(),
                    kernel: "6.1".into(),
                    cgroup_version: 1,
                    features: Default::default(),
                    capacity: Default::default(),
                    interrupted_batch: None,
                    supervisor: None,
                }),
                Request::Ping => Response::Pong,
                _ => return,
            };
            let out = serde_json::to_vec(&Envelope { id: env.id, body }).unwrap();
            framed.send(Bytes::from(out)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn hello_then_requests_pair_by_id() {
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(fake_node(b, PROTOCOL_VERSION));
        let mut conn = Connection::open(Box::new(a), StderrTail::default())
            .await
            .unwrap();
        assert_eq!(conn.info.hostname, "fake");
        for _ in 0..3 {
            assert_eq!(
                conn.call(Request::Ping, &|_, _| {}).await.unwrap(),
                Response::Pong
            );
        }
        // The fake hangs up on List: a closed session, with the node's last words.
        conn.stderr.lock().unwrap().push_str("boom\n");
        let err = conn
            .call(Request::List { usage: false }, &|_, _| {})
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the node closed the session; it said: boom"
        );
    }

    #[tokio::test]
    async fn other_protocol_version_says_to_bootstrap() {
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(fake_node(b, PROTOCOL_VERSION + 1));
        let err = Connection::open(Box::new(a), StderrTail::default())
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("run `fleet bootstrap`"), "{err}");
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let tail = StderrTail::default();
        push_stderr(&tail, &vec![b'a'; STDERR_KEEP]);
        push_stderr(&tail, b"end");
        let t = tail.lock().unwrap();
        assert_eq!(t.len(), STDERR_KEEP);
        assert!(t.ends_with("aend"));
    }
}
