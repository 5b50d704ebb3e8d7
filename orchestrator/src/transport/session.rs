//! The seam between the stages that talk to nodes (apply, the journal) and the transport: what
//! they need of an open session with one host's node. [`NodeClient`] is the real one, over SSH
//! or a local child; tests use an in-memory node (`transport::memory`, test builds only) that
//! keeps containers in a map, so apply's own logic (waves, dependency skips, lost sessions,
//! refused batches, the journal) is tested without root or sshd.

use std::future::Future;

use fleet_protocol::{Request, Response};

use super::{NodeClient, OnProgress, TransportError};

/// An open session with one host's node, after the hello.
pub trait NodeSession: Send {
    /// Sends one request and waits for its answer. An error means the session is lost: nothing
    /// more is sent on it.
    fn call(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;

    /// [`NodeSession::call`], handing each progress report the node sends before the answer
    /// (an `Apply` that asked for progress) to `progress`.
    fn call_with_progress(
        &mut self,
        request: Request,
        progress: &OnProgress<'_>,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send;

    /// Whether the node reads a move's chunks as raw bytes after the frame's JSON (its hello's
    /// `raw_chunks`); a move asks the source for raw chunks only when the target does.
    fn reads_raw_chunks(&self) -> bool {
        false
    }

    /// Whether a live move from this node can pre-dump memory while the container runs (its
    /// hello's `criu_mem_dirty_track`); else why not, for the move's report.
    fn pre_dumps(&self) -> Result<(), String> {
        Err("it does not say that its criu tracks dirty memory".to_owned())
    }
}

impl NodeSession for NodeClient {
    fn call(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        NodeClient::call(self, request)
    }

    fn call_with_progress(
        &mut self,
        request: Request,
        progress: &OnProgress<'_>,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        NodeClient::call_with_progress(self, request, progress)
    }

    fn reads_raw_chunks(&self) -> bool {
        self.info().features.raw_chunks
    }

    fn pre_dumps(&self) -> Result<(), String> {
        fleet_protocol::live::why_no_pre_dumps(self.info()).map_or(Ok(()), Err)
    }
}
