//! `Request::Snapshot`: `fleet snapshot` and `fleet clone` over the protocol, answered by the
//! same code as `fleet-node snapshot` and `clone` (`checkpoint::{snapshot, clone}`). The
//! server takes the apply lock first for every operation that changes the node.

use std::time::Duration;

use fleet_protocol::Response;
use fleet_protocol::snapshot::{SnapshotOp, SnapshotReply};

use crate::checkpoint::{clone, snapshot};
use crate::container::Runtime;
use crate::error::Result;

/// Answers one operation; a refusal is a `Response::Error` with the node's reason.
pub fn handle(runtime: &Runtime, op: SnapshotOp) -> Response {
    match answer(runtime, op) {
        Ok(reply) => Response::Snapshot(reply),
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
}

fn answer(runtime: &Runtime, op: SnapshotOp) -> Result<SnapshotReply> {
    Ok(match op {
        SnapshotOp::Take { name, tag } => SnapshotReply::Taken {
            snapshot: snapshot::create(runtime, &name, tag.as_deref())?,
        },
        SnapshotOp::List { name } => SnapshotReply::List {
            snapshots: snapshot::list(runtime, &name)?,
        },
        SnapshotOp::Restore {
            name,
            tag,
            timeout_secs,
        } => restore(runtime, &name, &tag, timeout_secs)?,
        SnapshotOp::Delete { name, tag } => {
            snapshot::delete(runtime, &name, &tag)?;
            SnapshotReply::Deleted
        }
        SnapshotOp::Clone { src, spec } => {
            clone::clone_as(runtime, &src, &spec)?;
            SnapshotReply::Cloned {
                init_pid: runtime.status(&spec.name)?.init_pid,
            }
        }
    })
}

/// Stops a running container for the restore and starts it again afterwards, also when the
/// restore failed (which changed nothing), so that it runs either way.
fn restore(runtime: &Runtime, name: &str, tag: &str, timeout_secs: u32) -> Result<SnapshotReply> {
    if !snapshot::list(runtime, name)?.iter().any(|s| s.tag == tag) {
        // The refusal (naming the tags there are) comes before anything is stopped.
        snapshot::restore(runtime, name, tag)?;
    }
    let restarted = runtime.stop(name, Duration::from_secs(u64::from(timeout_secs)))?;
    let restored = snapshot::restore(runtime, name, tag);
    if restarted {
        runtime.start(name)?;
    }
    Ok(SnapshotReply::Restored {
        snapshot: restored?,
        restarted,
    })
}
