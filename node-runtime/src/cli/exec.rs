//! `fleet-node exec NAME -- CMD...` (the command's exit status is fleet-node's) and
//! `fleet-node logs NAME` (init's console log).

use std::io::Write;

use clap::Args;

use super::lifecycle::NameArg;
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

/// Runs `logs`: copies the console log (nothing when there is none yet).
pub fn logs(runtime: &Runtime, args: &NameArg, out: &mut impl Write) -> Result<()> {
    let path = runtime.log_path(&args.name)?;
    match std::fs::read(&path) {
        Ok(bytes) => {
            let _ = out.write_all(&bytes);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::error::io_err("read", &path)(e)),
    }
}
