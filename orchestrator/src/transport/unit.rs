//! Installing fleet-node.service on a host: `fleet-node install-unit` run there with the host's
//! node settings (fleet-node renders and installs the unit; see node-runtime/src/supervise/unit.rs),
//! after `fleet bootstrap` has put the binary in place. A local host is left alone: its machine
//! is the one `fleet` runs on, whose init is not the fleet's to change.

use russh::client::Handle;

use super::TransportError;
use super::ssh::{Verifier, run_command};
use crate::model::NodeSettings;

/// What the host said (`/etc/systemd/system/fleet-node.service: enabled and started`, or why
/// nothing was installed), or why it failed; over `handle`, the session that installed the binary
/// (one login less per host: under load, each SSH login to an emulated host is a chance to time
/// out).
pub async fn install_unit(
    handle: &Handle<Verifier>,
    node: &NodeSettings,
) -> Result<String, String> {
    let argv: Vec<String> = [
        node.path.as_str(),
        "--root",
        node.root.as_str(),
        "--cgroup-parent",
        node.cgroup_parent.as_str(),
        "install-unit",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_command(handle, &argv, b"")
        .await
        .map_err(|e: TransportError| e.to_string())?;
    if out.status != 0 {
        return Err(format!(
            "installing fleet-node.service failed (status {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What a local host reports: nothing installed.
pub const LOCAL: &str = "a local host: fleet-node.service not installed (run `fleet-node \
                         install-unit` there to install it)";
