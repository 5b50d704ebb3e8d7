//! `fleet-node exec NAME -- CMD...` (the command's exit status is fleet-node's).

use clap::Args;

use crate::container::{ExecOptions, Runtime};
use crate::error::Result;

/// Flags of `fleet-node exec`.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Container name.
    pub name: String,
    /// Give the command a terminal (for interactive shells).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// The command.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs `exec`; returns the command's exit status.
pub fn exec(runtime: &Runtime, args: &ExecArgs) -> Result<i32> {
    let options = ExecOptions {
        tty: args.tty,
        ..ExecOptions::default()
    };
    runtime.exec(&args.name, &args.command, &options)
}
