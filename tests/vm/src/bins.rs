//! The workspace's binaries under test: `fleet` and `fleet-node`, from the profile directory the
//! running test (or bench) was built into. `cargo test --workspace` builds both before any test
//! runs.

use std::path::PathBuf;

pub use crate::command::profile_dir;

/// The `fleet` CLI.
pub fn fleet() -> PathBuf {
    profile_dir().join("fleet")
}

/// The `fleet-node` binary `fleet bootstrap` copies onto each VM.
pub fn fleet_node() -> PathBuf {
    profile_dir().join("fleet-node")
}
