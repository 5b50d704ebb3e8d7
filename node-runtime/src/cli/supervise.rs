//! `fleet-node supervise [--boot]`: restart containers by their restart policy until SIGTERM
//! (what the fleet-node.service unit runs).

use clap::Args;

use crate::container::Runtime;
use crate::error::Result;

/// Flags of `fleet-node supervise`.
#[derive(Debug, Clone, Args)]
pub struct SuperviseArgs {
    /// First start the onboot containers, once per host boot (a restart of the supervisor
    /// does not start again what an operator stopped since).
    #[arg(long)]
    pub boot: bool,
}

/// Runs `supervise`.
pub fn run(runtime: &Runtime, args: &SuperviseArgs) -> Result<()> {
    crate::supervise::run(runtime, crate::supervise::Options { boot: args.boot })
}
