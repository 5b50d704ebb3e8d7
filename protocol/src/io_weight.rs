//! Which cgroup file a host's I/O scheduler reads a container's weight from, as the node's
//! hello reports it (`Features::io_weight_file`; re-exported from `message`).

use serde::{Deserialize, Serialize};

/// The cgroup file a host's I/O scheduler reads container weights from (serialized as the
/// file's name; `""` for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightFile {
    /// No scheduler there reads a weight.
    #[default]
    #[serde(rename = "")]
    None,
    /// cgroup v2 under iocost.
    #[serde(rename = "io.weight")]
    IoWeight,
    /// cgroup v2 under BFQ.
    #[serde(rename = "io.bfq.weight")]
    IoBfqWeight,
    /// cgroup v1 under BFQ.
    #[serde(rename = "blkio.bfq.weight")]
    BlkioBfqWeight,
    /// cgroup v1 under CFQ (kernels before 5.0).
    #[serde(rename = "blkio.weight")]
    BlkioWeight,
}

impl WeightFile {
    /// Whether no scheduler reads a weight.
    pub fn is_none(&self) -> bool {
        *self == WeightFile::None
    }
}
