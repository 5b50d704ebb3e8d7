//! `fleet-node start|stop|restart|destroy NAME`: one verb on one container, one line of output.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use super::report;
use crate::container::Runtime;
use crate::error::Result;

/// The container a verb acts on.
#[derive(Debug, Clone, Args)]
pub struct NameArg {
    /// Container name.
    pub name: String,
}

/// Flags of `fleet-node stop`.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Container name.
    #[arg(required_unless_present = "all")]
    pub name: Option<String>,
    /// Every container of this node, in parallel; a container waiting for its restart by
    /// policy stays stopped too.
    #[arg(long, conflicts_with = "name")]
    pub all: bool,
    /// With --all: only while the host shuts down (systemd's state is "stopping"), so that a
    /// restart of fleet-node.service leaves the containers running.
    #[arg(long, requires = "all")]
    pub if_shutting_down: bool,
    /// Seconds to wait after SIGTERM.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// Flags of `fleet-node restart`.
#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
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

/// Runs `stop`; returns the exit code (1 when a container of `--all` failed to stop).
pub fn stop(runtime: &Runtime, args: &StopArgs, out: &mut impl Write) -> Result<i32> {
    let timeout = Duration::from_secs(args.timeout);
    let Some(name) = &args.name else {
        if args.if_shutting_down && !host_is_shutting_down() {
            let _ = writeln!(
                out,
                "the host is not shutting down: containers left running"
            );
            return Ok(0);
        }
        let mut failed = 0;
        for (name, result) in runtime.stop_all(timeout)? {
            match result {
                Ok(true) => report(out, &name, true, "stopped", ""),
                Ok(false) => {}
                Err(e) => {
                    failed += 1;
                    eprintln!("fleet-node: {name}: {e}");
                }
            }
        }
        return Ok(i32::from(failed > 0));
    };
    let changed = runtime.stop(name, timeout)?;
    report(out, name, changed, "stopped", "not running");
    Ok(0)
}

/// Whether systemd says the host is shutting down (`systemctl is-system-running` prints
/// `stopping` while the shutdown transaction runs); false where there is no systemd.
fn host_is_shutting_down() -> bool {
    std::process::Command::new("systemctl")
        .arg("is-system-running")
        .stderr(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "stopping")
}

/// Runs `restart`.
pub fn restart(runtime: &Runtime, args: &RestartArgs, out: &mut impl Write) -> Result<()> {
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
