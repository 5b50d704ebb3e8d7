//! Unprivileged containers: each container's root is an unprivileged host uid/gid range of its
//! own. [`pool`] says which host ids the node may hand out and which the host keeps;
//! [`ranges`] records who holds which range, node-wide and persistently; [`shift`] moves a
//! writable layer's owners between host ids and a range with the rules of [`ids`]. Nothing here
//! knows the runtime.
//!
//! Neighbours: `container/uid_ranges.rs` allocates and frees ranges for the verbs (under the
//! node lock), `container/ids.rs` prepares a start (the layer's owners, the user namespace, the
//! template as the range sees it), `server/hello.rs` reports how many ranges are free and who
//! holds which.

pub mod ids;
pub mod pool;
pub mod ranges;
pub mod shift;

pub use pool::{DEFAULT_POOL, Pool, RANGE_SIZE};

/// Environment variable giving the uid pool when `--uid-pool` does not.
pub const POOL_ENV: &str = "FLEET_NODE_UID_POOL";
