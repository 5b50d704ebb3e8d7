//! Running a helper program a test needs (ssh-keygen, qemu-img, dpkg-deb, scripts/build-deb...)
//! and failing the test, with what it printed, when it fails. Self-contained, for it is included
//! by `#[path]`: from sshd.rs (which the benches include alone) and completion.rs, by the VM
//! tier's library and by fleet-node's portability tests.

#![allow(dead_code)]

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
