//! One host's batch of one wave on the wire: the actions of its steps, what each needs earlier
//! in the batch, one `Request::Apply` asking for progress, and the node's progress reports turned
//! into the progress display as each step finishes.

use std::ops::Range;
use std::sync::Mutex;

use fleet_protocol::{Action, ActionOutcome, ActionResult, Request, Response};

use super::ApplyOptions;
use super::error::BatchError;
use super::progress::Progress;
use crate::transport::NodeSession;

/// One host's batch as sent: the actions, which of them belong to which step, and for each
/// action the earlier actions it needs (the actions of the steps its step waits for in this
/// batch: a dependency on the same host).
pub(super) struct Sent {
    /// Host name.
    pub host: String,
    /// Step ids with their actions' positions in the batch.
    pub steps: Vec<(usize, Range<usize>)>,
    /// Each step's container, for the progress display.
    pub names: Vec<String>,
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Per action, the positions of the actions it needs.
    pub after: Vec<Vec<u32>>,
}

impl Sent {
    /// An empty batch for `host`.
    pub fn new(host: &str) -> Sent {
        Sent {
            host: host.to_owned(),
            steps: Vec::new(),
            names: Vec::new(),
            actions: Vec::new(),
            after: Vec::new(),
        }
    }

    /// The step and range of actions that `id` was sent as, if it is in this batch.
    pub fn find(&self, id: usize) -> Option<&Range<usize>> {
        self.steps.iter().find(|(s, _)| *s == id).map(|(_, r)| r)
    }

    /// Adds step `id` of container `name` with its `actions`, each needing `needs`.
    pub fn push(&mut self, id: usize, name: &str, actions: &[Action], needs: Vec<u32>) {
        let start = self.actions.len();
        self.actions.extend(actions.iter().cloned());
        self.after.extend(std::iter::repeat_n(needs, actions.len()));
        self.steps.push((id, start..self.actions.len()));
        self.names.push(name.to_owned());
    }
}

/// What came back for one batch.
pub(super) struct Answer<S> {
    /// The batch.
    pub sent: Sent,
    /// The session, unless it broke.
    pub client: Option<S>,
    /// One outcome per action, or why the batch failed as a whole.
    pub result: Result<Vec<ActionOutcome>, BatchError>,
    /// Per step of `sent`, whether the progress display was already told it finished (from the
    /// node's progress reports; a node that sends none leaves them all false).
    pub shown: Vec<bool>,
}

/// Sends one batch; returns the session unless it broke (then the error is
/// [`BatchError::Lost`]).
pub(super) async fn send<S: NodeSession>(
    fleet: &str,
    sent: Sent,
    mut client: S,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Answer<S> {
    let first = sent.names.first().map_or("", String::as_str);
    progress.batch_started(&sent.host, sent.steps.len(), first);
    let request = Request::Apply {
        fleet: fleet.to_string(),
        actions: sent.actions.clone(),
        lock_timeout_secs: opts.lock_timeout_secs,
        user: opts.user.clone(),
        after: sent.after.clone(),
        progress: true,
    };
    // Per step: whether one of its actions failed so far, and whether it was shown finished.
    let seen = Mutex::new(vec![(false, false); sent.steps.len()]);
    let on_progress = |index: u32, result: &ActionResult| {
        let index = index as usize;
        let Some(k) = sent.steps.iter().position(|(_, r)| r.contains(&index)) else {
            return;
        };
        let Ok(mut seen) = seen.lock() else { return };
        seen[k].0 |= !matches!(result.outcome, ActionOutcome::Done { .. });
        if index + 1 == sent.steps[k].1.end && !seen[k].1 {
            seen[k].1 = true;
            progress.step_finished(&sent.host, &sent.names[k], !seen[k].0);
            if let Some(next) = sent.names.get(k + 1) {
                progress.working_on(&sent.host, next);
            }
        }
    };
    let answer = client.call_with_progress(request, &on_progress).await;
    let shown = seen
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, shown)| shown)
        .collect();
    let (client, result) = match answer {
        Ok(Response::Applied { results }) if results.len() == sent.actions.len() => {
            let outcomes = results.into_iter().map(|r| r.outcome).collect();
            (Some(client), Ok(outcomes))
        }
        Ok(Response::Applied { results }) => {
            let error = BatchError::WrongCount {
                got: results.len(),
                sent: sent.actions.len(),
            };
            (Some(client), Err(error))
        }
        Ok(Response::Error { message }) => (Some(client), Err(BatchError::Refused(message))),
        Ok(other) => {
            let error = BatchError::Unexpected(format!("{other:?}"));
            (Some(client), Err(error))
        }
        Err(e) => (None, Err(BatchError::Lost(e.to_string()))),
    };
    Answer {
        sent,
        client,
        result,
        shown,
    }
}
