//! Running a helper program a test needs (ssh-keygen, qemu-img, dpkg-deb, scripts/build-deb...)
//! and failing the test, with what it printed, when it fails; and where cargo put the
//! workspace's own programs. Self-contained, for it is included
//! by `#[path]`: from sshd.rs (which the benches include alone) and completion.rs, by the VM
//! tier's library and by fleet-node's portability tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cmd` to its end; panics unless it succeeded, naming `what` with its exit status and
/// both outputs. Returns its stdout.
#[track_caller]
pub fn stdout_of(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `target/<profile>`, where cargo puts the workspace's binaries: the running test (or bench) is
/// `target/<profile>/deps/<name>-<hash>`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable lies in target/<profile>/deps")
        .to_path_buf()
}
