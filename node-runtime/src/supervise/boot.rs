//! `supervise --boot`: the onboot containers started once per host boot. The boot they were
//! started for is recorded in `<root>/booted` (the kernel's boot id), so a supervisor that is
//! restarted (a crash, `systemctl restart fleet-node`, an upgrade) does not start again what an
//! operator has stopped since.

use std::path::Path;

use crate::container::Runtime;
use crate::error::Result;
use crate::sys::process;

/// Starts the onboot containers unless that was done in this boot; prints one line per
/// container to stderr (the journal, under systemd).
pub fn once_per_host_boot(runtime: &Runtime) -> Result<()> {
    let marker = runtime.store.root().join("booted");
    let boot = process::boot_id();
    if boot.is_some() && read_marker(&marker) == boot {
        eprintln!("fleet-node supervise: onboot containers were started in this boot already");
        return Ok(());
    }
    for (name, result) in runtime.boot()? {
        match result {
            Ok(true) => eprintln!("fleet-node supervise: {name}: started (onboot)"),
            Ok(false) => eprintln!("fleet-node supervise: {name}: already running"),
            Err(e) => eprintln!("fleet-node supervise: {name}: failed to start at boot: {e}"),
        }
    }
    if let Some(boot) = boot {
        crate::store::atomic_write(&marker, format!("{boot}\n").as_bytes())?;
    }
    Ok(())
}

fn read_marker(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Records the current boot as done (when nothing is recorded yet), so that a supervisor started
/// now by `install-unit` does not take the moment for a boot and start the onboot containers.
pub fn mark_this_boot(runtime: &Runtime) -> Result<()> {
    let marker = runtime.store.root().join("booted");
    if read_marker(&marker).is_none()
        && let Some(boot) = process::boot_id()
    {
        crate::store::atomic_write(&marker, format!("{boot}\n").as_bytes())?;
    }
    Ok(())
}
