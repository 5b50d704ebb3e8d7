//! Snapshots and clones of a container's data over the wire: what `fleet snapshot` and `fleet
//! clone` ask of the node that holds the container ([`SnapshotOp`], carried by
//! `Request::Snapshot`) and what it answers ([`SnapshotReply`]). [`Snapshot`] is also the record
//! fleet-node keeps beside each snapshot (`snapshot.json`), so the two never differ.

use serde::{Deserialize, Serialize};

use crate::container::ContainerSpec;

/// Which kind of writable layer a container has (what a snapshot or a clone copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// Its own ext4 image (`disk.img`, with `disk.inodes`).
    Disk,
    /// The plain upper directory in the store.
    Upper,
}

/// One snapshot of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its tag.
    pub tag: String,
    /// When it was taken, seconds since the Unix epoch (UTC).
    pub created: u64,
    /// What was copied.
    pub layer: LayerKind,
    /// The side the layer's owners were on (`0` host ids, else the uid range's base).
    pub layer_ids: u32,
    /// Bytes the copy takes on disk (holes and shared extents of a reflink still counted).
    pub bytes: u64,
    /// Whether the container was running (frozen for the copy).
    pub was_running: bool,
}

/// `Request::Snapshot`: an operation and, as a batch has, who asks (for the apply lock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// Fleet on whose behalf it runs.
    pub fleet: String,
    /// What to do.
    pub op: SnapshotOp,
    /// Seconds to wait for the apply lock when another apply holds it.
    #[serde(default)]
    pub lock_timeout_secs: u32,
    /// Who asks (`alice@laptop`), recorded as the lock's holder.
    #[serde(default)]
    pub user: String,
}

/// What a [`SnapshotRequest`] asks. Every operation but `List` takes the node's apply lock, as a
/// batch does, so it never runs in the middle of an apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SnapshotOp {
    /// Take a snapshot of container `name` (tag: `snap-<unix seconds>` when none); a tag that
    /// exists is refused.
    Take {
        /// Container name.
        name: String,
        /// The new snapshot's tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// The container's snapshots, oldest first.
    List {
        /// Container name.
        name: String,
    },
    /// Put snapshot `tag`'s data back: a running container is stopped for it and started
    /// again (also when the restore fails, so it runs either way).
    Restore {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
        /// Seconds to wait after SIGTERM when it is stopped for the restore.
        timeout_secs: u32,
    },
    /// Delete snapshot `tag`.
    Delete {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
    },
    /// Make container `spec.name` on this node from `spec` with a copy of container `src`'s
    /// writable layer, started if the spec says running. A name that exists, or a layer of
    /// another kind than the spec's disk asks for, is refused before anything is made.
    Clone {
        /// The container to copy.
        src: String,
        /// The clone's spec (the spec's entry for it, as a create would send).
        spec: Box<ContainerSpec>,
    },
}

impl SnapshotOp {
    /// Whether the operation changes the node (and so takes its apply lock).
    pub fn changes(&self) -> bool {
        !matches!(self, SnapshotOp::List { .. })
    }
}

/// The node's answer to a [`SnapshotOp`] (`Response::Snapshot`); a refusal is a
/// `Response::Error` that says why and that nothing was changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SnapshotReply {
    /// The snapshot taken.
    Taken {
        /// It.
        snapshot: Snapshot,
    },
    /// The container's snapshots, oldest first.
    List {
        /// Them.
        snapshots: Vec<Snapshot>,
    },
    /// The snapshot restored.
    Restored {
        /// It.
        snapshot: Snapshot,
        /// The container was running, so it was stopped and started again.
        restarted: bool,
    },
    /// The snapshot deleted.
    Deleted,
    /// The clone made.
    Cloned {
        /// Host pid of its init when it was started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init_pid: Option<i32>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_and_replies_travel_as_tagged_json() {
        let op = SnapshotOp::Take {
            name: "db".into(),
            tag: Some("before".into()),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(text, r#"{"op":"take","name":"db","tag":"before"}"#);
        assert_eq!(serde_json::from_str::<SnapshotOp>(&text).unwrap(), op);
        assert!(op.changes());
        assert!(!SnapshotOp::List { name: "db".into() }.changes());
        let reply = SnapshotReply::Cloned { init_pid: None };
        assert_eq!(serde_json::to_string(&reply).unwrap(), r#"{"op":"cloned"}"#);
    }

    #[test]
    fn the_request_and_the_answer_travel_inside_the_envelope() {
        use crate::message::{Request, Response};
        let request = Request::Snapshot(SnapshotRequest {
            fleet: "f".into(),
            op: SnapshotOp::Delete {
                name: "db".into(),
                tag: "t".into(),
            },
            lock_timeout_secs: 3,
            user: "alice@laptop".into(),
        });
        let text = serde_json::to_string(&request).unwrap();
        assert!(text.starts_with(r#"{"type":"snapshot","fleet":"f","op":{"op":"delete""#));
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), request);
        let answer = Response::Snapshot(SnapshotReply::Deleted);
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(text, r#"{"type":"snapshot","op":"deleted"}"#);
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), answer);
    }
}
