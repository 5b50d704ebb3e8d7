//! Unprivileged containers: each container's root is an unprivileged host uid/gid range of its
//! own. [`pool`] says which host ids the node may hand out and which the host keeps;
//! [`ranges`] records who holds which range, node-wide and persistently; `runtime.rs` allocates
//! and frees them for the container verbs; `layer.rs` prepares a start (the writable layer's
//! owners, the user namespace, the template as the range sees it); [`shift`] moves a layer's
//! owners between host ids and the range with the rules of [`ids`].
//!
//! Neighbours: `container/create.rs` and `container/start.rs` allocate, `container/destroy.rs`
//! frees, `server/hello.rs` reports how many ranges are free.

pub mod ids;
mod layer;
pub mod pool;
pub mod ranges;
mod runtime;
pub mod shift;

pub(crate) use layer::Ids;
pub use layer::{LowerLayers, SHIFTED_ENV, lower_layers};
pub use pool::{DEFAULT_POOL, Pool, RANGE_SIZE};

/// Environment variable giving the uid pool when `--uid-pool` does not.
pub const POOL_ENV: &str = "FLEET_NODE_UID_POOL";
