//! `fleet logs NAME [--follow] [--tail N] [--timestamps]`: a container's console log (its
//! init's stdout and stderr) from whichever host holds it. A name the spec does not have is
//! refused before any host is asked. The host is found as `fleet exec` finds it; then
//! `fleet-node logs NAME ...` runs there through `transport::exec` (its own SSH exec channel, or
//! a child for `transport: local`), streaming to this terminal; with `-f` it keeps streaming
//! until interrupted, and the node's follower ends when the session does.

use std::process::ExitCode;

use super::exec::find_host;
use super::{ContainerArgs, load, runtime};
use crate::transport;

/// Arguments of `fleet logs`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet logs web-01\n  fleet logs -f fleet.yaml db --tail 50\n  \
fleet logs -f fleet.yaml web-01 --follow --timestamps\n\n\
The log is what the container's init wrote to stdout and stderr, kept on its host at\n\
<root>/containers/NAME/console.log (`fleet-node logs NAME` there prints the same). With\n\
--follow it goes on until Ctrl-C, which also ends the follower on the host. -f is the spec\n\
file, as on every verb. The log keeps no time per line: --timestamps shows when a followed\n\
line was read (within 0.25 s of its writing) and, for lines already in the log, `<=` its last\n\
write. Exit status: 0, or 1 when the spec has no such container, or it cannot be found or its\n\
host reached."
)]
pub struct Args {
    #[command(flatten)]
    target: ContainerArgs,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    tail: Option<u64>,
    /// Keep printing what the container writes, until interrupted.
    #[arg(long)]
    follow: bool,
    /// Put a UTC time before each line (see below for what it means).
    #[arg(short = 't', long)]
    timestamps: bool,
}

/// Runs `fleet logs`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.target.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(message) = super::exec::not_in_spec(&fleet, &args.target.name) {
        eprintln!("error: {message}");
        return Ok(ExitCode::FAILURE);
    }
    let rt = runtime()?;
    let host = match rt.block_on(find_host(&fleet, &args.target.name, &args.target.connect)) {
        Ok(h) => h,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut node_args = vec!["logs".to_string(), args.target.name.clone()];
    if let Some(n) = args.tail {
        node_args.extend(["--tail".to_string(), n.to_string()]);
    }
    if args.follow {
        node_args.push("--follow".into());
    }
    if args.timestamps {
        node_args.push("--timestamps".into());
    }
    let options = args.target.connect.options();
    let ran = rt.block_on(async {
        tokio::select! {
            ran = transport::exec::run_node(host, &node_args, &options) => ran,
            // Ctrl-C is handled, not left to SIGINT's default action: a shell that starts fleet
            // in the background has it ignore SIGINT, and an interrupt must still end the
            // follow. Dropping the session ends the follower on the host.
            _ = tokio::signal::ctrl_c() => Ok(130),
        }
    });
    // The stdin pump may still be blocked reading a terminal: do not wait for it.
    rt.shutdown_background();
    match ran {
        Ok(0) => Ok(ExitCode::SUCCESS),
        Ok(status) => Ok(ExitCode::from(u8::try_from(status).unwrap_or(1))),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
