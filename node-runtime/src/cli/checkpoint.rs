//! `fleet-node checkpoint NAME DIR [--leave-running]` and `fleet-node restore NAME DIR`: the
//! CRIU dump and restore of a running container (`crate::checkpoint`), one line of output or
//! JSON.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Format;
use crate::checkpoint::{self, CheckpointOptions};
use crate::container::Runtime;
use crate::error::Result;

/// Flags of `fleet-node checkpoint`.
#[derive(Debug, Clone, Args)]
pub struct CheckpointArgs {
    /// Container name (it must be running).
    pub name: String,
    /// Host directory for the images: new or empty, absolute, outside the node's root; made
    /// 0700.
    pub dir: PathBuf,
    /// Keep the container running after the dump (by default it is stopped, as a move needs).
    #[arg(long)]
    pub leave_running: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Flags of `fleet-node restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Container name (it must exist here and be stopped).
    pub name: String,
    /// The directory `fleet-node checkpoint` wrote.
    pub dir: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Runs `checkpoint`.
pub fn checkpoint(runtime: &Runtime, args: &CheckpointArgs, out: &mut impl Write) -> Result<()> {
    let opts = CheckpointOptions {
        leave_running: args.leave_running,
    };
    let report = checkpoint::checkpoint(runtime, &args.name, &args.dir, &opts)?;
    write_report(out, args.output, &report, || {
        format!(
            "{}: checkpointed to {} ({} bytes, frozen {:.1} ms, criu {}){}",
            args.name,
            report.dir.display(),
            report.image_bytes,
            report.frozen.as_secs_f64() * 1000.0,
            report.criu_version,
            if report.left_running {
                "; still running"
            } else {
                "; stopped"
            }
        )
    });
    Ok(())
}

/// Runs `restore`.
pub fn restore(runtime: &Runtime, args: &RestoreArgs, out: &mut impl Write) -> Result<()> {
    let report = checkpoint::restore(runtime, &args.name, &args.dir)?;
    write_report(out, args.output, &report, || {
        format!(
            "{}: restored from {} (init pid {}, {:.1} ms)",
            args.name,
            args.dir.display(),
            report.init_pid,
            report.restore.as_secs_f64() * 1000.0
        )
    });
    Ok(())
}

/// Writes a report as pretty JSON or as the one line `text` makes: both verbs answer alike, and
/// a closed output is not an error of the dump or restore that already happened.
fn write_report(
    out: &mut impl Write,
    format: Format,
    report: &impl Serialize,
    text: impl FnOnce() -> String,
) {
    let line = match format {
        Format::Json => serde_json::to_string_pretty(report).expect("a report serializes"),
        Format::Text => text(),
    };
    let _ = writeln!(out, "{line}");
}
