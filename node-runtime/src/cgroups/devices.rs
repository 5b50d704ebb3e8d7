//! The devices controller (v1): deny everything, then allow the few character devices a
//! container's /dev holds. On v2 the same policy needs an eBPF program, which fleet-node does
//! not load yet (docs/node-runtime.md says so); there the bind-mounted /dev is the only guard.

use std::fs;
use std::path::Path;

use crate::error::{Result, io_err};

/// Rules written to `devices.allow` after `a` is written to `devices.deny`.
pub const DEVICE_ALLOW_LIST: &[&str] = &[
    "c 1:3 rwm",   // null
    "c 1:5 rwm",   // zero
    "c 1:7 rwm",   // full
    "c 1:8 rwm",   // random
    "c 1:9 rwm",   // urandom
    "c 5:0 rwm",   // tty
    "c 5:2 rwm",   // ptmx
    "c 136:* rwm", // pts
    "c *:* m",     // mknod may create nodes, but not open them
    "b *:* m",
];

/// Replaces the group's device rules with the allow-list (v1 `devices.deny` / `devices.allow`).
pub fn apply_allow_list(dir: &Path) -> Result<()> {
    let deny = dir.join("devices.deny");
    fs::write(&deny, "a").map_err(io_err("write a to", &deny))?;
    let allow = dir.join("devices.allow");
    for rule in DEVICE_ALLOW_LIST {
        fs::write(&allow, rule).map_err(io_err("write device rule to", &allow))?;
    }
    Ok(())
}
