//! The workspace's binaries under test: `fleet` and `fleet-node`, from the profile directory the
//! running test (or bench) was built into. `cargo test --workspace` builds both before any test
//! runs.

use std::path::{Path, PathBuf};

/// `target/<profile>`: the running executable is `target/<profile>/deps/<name>-<hash>`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps")
        .to_path_buf()
}

/// The `fleet` CLI.
pub fn fleet() -> PathBuf {
    profile_dir().join("fleet")
}

/// The `fleet-node` binary `fleet bootstrap` copies onto each VM.
pub fn fleet_node() -> PathBuf {
    profile_dir().join("fleet-node")
}
