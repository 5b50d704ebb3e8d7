//! Who holds a node's apply lock, and the journal of a batch that lock's apply did not finish:
//! what a node's hello reports (`NodeInfo`) so that `fleet` can name the holder or finish the
//! batch. Re-exported from `message`, where they are part of the wire.

use serde::{Deserialize, Serialize};

/// Who holds (or held) a node's apply lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Fleet the apply ran for.
    pub fleet: String,
    /// Who ran it, as the client said (`alice@laptop`).
    #[serde(default)]
    pub user: String,
    /// The client's hello (`fleet 0.1.0`).
    #[serde(default)]
    pub client: String,
    /// PID of the `fleet-node` process serving that apply.
    #[serde(default)]
    pub pid: u32,
    /// When the lock was taken, UTC (`2026-11-26T16:45:03Z`).
    #[serde(default)]
    pub since: String,
}

/// The journal of an apply batch that did not finish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptedBatch {
    /// Who ran it and when.
    pub holder: LockHolder,
    /// Actions in the batch.
    pub total: u32,
    /// Actions finished before it was cut off.
    pub done: u32,
}
