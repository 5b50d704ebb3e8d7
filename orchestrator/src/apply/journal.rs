//! What `apply` knows of the nodes' apply locks and journals: who this apply says it is (the
//! lock's holder record), the per-host note for a batch a previous apply left cut off (the node's
//! hello reports its journal), the note for a move a node reports as cut off, and the empty batch that clears such a journal on a host this run
//! has nothing else to send to.
//!
//! Neighbours: [`super::apply`] sends the batches; the node's `server::lock` and
//! `server::journal` hold the lock and write the journal.

use std::collections::BTreeMap;

use fleet_protocol::{InterruptedBatch, Request, Response};

use crate::diff::{HostObservation, Observed};
use crate::transport::NodeSession;

/// `user@machine` of whoever runs fleet, for the node's lock holder record.
pub fn local_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(passwd_name)
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// The name of this process's real uid in /etc/passwd (services and sshd sessions may run
/// without `USER`).
fn passwd_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Hosts whose node reported a batch that was cut off, sorted by host.
pub fn interrupted(observed: &Observed) -> Vec<(String, InterruptedBatch)> {
    observed
        .hosts
        .iter()
        .filter_map(|(host, obs)| match obs {
            HostObservation::Reachable {
                node: Some(info), ..
            } => info.interrupted_batch.clone().map(|b| (host.clone(), *b)),
            _ => None,
        })
        .collect()
}

/// The moves a node reports as cut off (a container it stopped for a move that did not end),
/// one note each: `node-0: the move of web-1 to node-1 was cut off (web-1 is stopped on node-0);
/// <then>`. The plan decides from both hosts what finishes or rolls it back (`migrate`).
pub fn moves_cut_off(observed: &Observed, then: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for (host, obs) in &observed.hosts {
        let HostObservation::Reachable { containers, .. } = obs else {
            continue;
        };
        for c in containers {
            if let Some(to) = &c.moving_to {
                let state = match c.state {
                    fleet_protocol::ContainerState::Running => "running",
                    fleet_protocol::ContainerState::Stopped => "stopped",
                    fleet_protocol::ContainerState::Broken => "half-made",
                };
                notes.push(format!(
                    "{host}: the move of {} to {to} was cut off ({} is {state} on {host}); {then}",
                    c.name, c.name
                ));
            }
        }
    }
    notes
}

/// `node-1: the apply of <time> by <user> (fleet F) was cut off after 12 of 30 actions; <then>`.
pub fn note(host: &str, batch: &InterruptedBatch, then: &str) -> String {
    let h = &batch.holder;
    let who = if h.user.is_empty() {
        "an unknown user"
    } else {
        &h.user
    };
    format!(
        "{host}: the apply of {} by {who} (fleet {}) was cut off after {} of {} actions; {then}",
        if h.since.is_empty() {
            "unknown time"
        } else {
            &h.since
        },
        h.fleet,
        batch.done,
        batch.total,
    )
}

/// Sends an empty batch to each of `hosts` that has a session: the node takes its lock, replaces
/// the old journal and removes it. Returns a note per host where that failed.
pub async fn clear<S: NodeSession>(
    fleet: &str,
    hosts: &[String],
    sessions: &mut BTreeMap<String, S>,
    lock_timeout_secs: u32,
    user: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    for host in hosts {
        let Some(client) = sessions.get_mut(host) else {
            continue;
        };
        let request = Request::Apply {
            fleet: fleet.to_owned(),
            actions: Vec::new(),
            lock_timeout_secs,
            user: user.to_owned(),
            after: Vec::new(),
            progress: false,
        };
        match client.call(request).await {
            Ok(Response::Applied { .. }) => {}
            Ok(Response::Error { message }) => notes.push(format!(
                "{host}: the old journal was not cleared: {message}"
            )),
            Ok(other) => notes.push(format!(
                "{host}: the old journal was not cleared: the node answered {other:?}"
            )),
            Err(e) => notes.push(format!("{host}: the old journal was not cleared: {e}")),
        }
    }
    notes
}
