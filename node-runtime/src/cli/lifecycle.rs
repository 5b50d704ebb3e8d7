//! `fleet-node start|stop|restart|destroy NAME`: one verb on one container, one line of output.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::container::Runtime;
use crate::error::Result;

/// The container a verb acts on.
#[derive(Debug, Clone, Args)]
pub struct NameArg {
    /// Container name.
    pub name: String,
}

/// Flags of `fleet-node stop` and `restart`.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Container name.
    pub name: String,
    /// Seconds to wait after SIGTERM.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// Runs `start`.
pub fn start(runtime: &Runtime, args: &NameArg, out: &mut impl Write) -> Result<()> {
    let changed = runtime.start(&args.name)?;
    report(out, &args.name, changed, "started", "already running");
    Ok(())
}

/// Runs `stop`.
pub fn stop(runtime: &Runtime, args: &StopArgs, out: &mut impl Write) -> Result<()> {
    let changed = runtime.stop(&args.name, Duration::from_secs(args.timeout))?;
    report(out, &args.name, changed, "stopped", "not running");
    Ok(())
}

/// Runs `restart`.
pub fn restart(runtime: &Runtime, args: &StopArgs, out: &mut impl Write) -> Result<()> {
    runtime.restart(&args.name, Duration::from_secs(args.timeout))?;
    let _ = writeln!(out, "{}: restarted", args.name);
    Ok(())
}

/// Runs `destroy`.
pub fn destroy(runtime: &Runtime, args: &NameArg, out: &mut impl Write) -> Result<()> {
    let changed = runtime.destroy(&args.name)?;
    report(out, &args.name, changed, "destroyed", "did not exist");
    Ok(())
}

/// `NAME: yes` when the verb changed something, else `NAME: no`.
pub fn report(out: &mut impl Write, name: &str, changed: bool, yes: &str, no: &str) {
    let _ = writeln!(out, "{name}: {}", if changed { yes } else { no });
}
