//! `fleet-node quota-broker`: the process a `disk.user_quota` container's start leaves running
//! beside it (`container/quota_broker.rs`), answering the container's quota calls from the
//! listener it got as descriptor 3. Not for operators: the verb is hidden.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Result, io_err};

/// The broker's arguments; the listener is descriptor 3.
#[derive(Debug, Args)]
pub struct QuotaBrokerArgs {
    /// Host pid of the container's init.
    #[arg(long)]
    pub init: i32,
    /// The loop device of the container's disk on the host.
    #[arg(long)]
    pub device: PathBuf,
}

/// Serves until the container's last filtered process is gone.
pub fn run(args: &QuotaBrokerArgs) -> Result<i32> {
    // Descriptor 3 is the listener the starter put there for this process alone.
    let listener = crate::sys::seccomp_notify::adopt(3);
    crate::quotactl::serve(listener, args.init, &args.device).map_err(io_err(
        "answer the quota calls of init",
        args.init.to_string(),
    ))?;
    Ok(0)
}
