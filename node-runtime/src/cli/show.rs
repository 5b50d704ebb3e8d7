//! `fleet-node list` and `fleet-node status NAME`: containers as columns or JSON rows (the flat
//! fields first, the full status nested).

use std::io::Write;

use clap::Args;
use fleet_protocol::ContainerStatus;
use serde_json::json;

use super::Format;
use crate::container::Runtime;
use crate::error::Result;

/// Flags of `fleet-node list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Format,
}

/// Flags of `fleet-node status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Container name.
    pub name: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Format,
}

/// Runs `list`.
pub fn list(runtime: &Runtime, args: &ListArgs, out: &mut impl Write) -> Result<()> {
    let all: Vec<_> = runtime
        .list()?
        .into_iter()
        .map(|s| runtime.with_usage(s))
        .collect();
    match args.output {
        Format::Json => {
            let rows: Vec<_> = all.iter().map(row).collect();
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&rows).expect("json")
            );
        }
        Format::Text => {
            let _ = writeln!(
                out,
                "{:<24} {:<12} {:<8} {:>8} {:<10} {:>8} {:<20} LAST EXIT",
                "NAME", "FLEET", "STATE", "PID", "TEMPLATE", "RESTARTS", "HOSTNAME"
            );
            for s in &all {
                let line = format!(
                    "{:<24} {:<12} {:<8} {:>8} {:<10} {:>8} {:<20} {}",
                    s.name,
                    s.fleet,
                    state_name(s),
                    pid(s),
                    s.spec.template.display_name(),
                    s.restarts,
                    s.spec.hostname,
                    last_exit(s)
                );
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }
    Ok(())
}

/// Runs `status`.
pub fn status(runtime: &Runtime, args: &StatusArgs, out: &mut impl Write) -> Result<()> {
    let s = runtime.with_usage(runtime.status(&args.name)?);
    match args.output {
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&row(&s)).expect("json")
            );
        }
        Format::Text => {
            let _ = writeln!(
                out,
                "{} {} pid {} template {} hostname {} restart {} restarts {}{}",
                s.name,
                state_name(&s),
                pid(&s),
                s.spec.template.display_name(),
                s.spec.hostname,
                s.spec.restart.show(),
                s.restarts,
                match last_exit(&s).as_str() {
                    "" => String::new(),
                    text => format!(" last exit {text}"),
                }
            );
        }
    }
    Ok(())
}

fn pid(s: &ContainerStatus) -> String {
    s.init_pid.map_or("-".into(), |p| p.to_string())
}

/// `killed by SIGKILL at 2026-11-26T16:45:03Z (gave up)`, or nothing when init never ended on
/// its own.
fn last_exit(s: &ContainerStatus) -> String {
    s.last_exit.as_ref().map_or_else(String::new, |e| {
        format!(
            "{} at {}{}",
            e.status,
            e.at,
            if e.gave_up { " (gave up)" } else { "" }
        )
    })
}

fn state_name(s: &ContainerStatus) -> &'static str {
    match s.state {
        fleet_protocol::ContainerState::Running => "running",
        fleet_protocol::ContainerState::Stopped => "stopped",
        fleet_protocol::ContainerState::Broken => "broken",
    }
}

/// The JSON row of list and status: the flat fields first, the full status nested.
fn row(s: &ContainerStatus) -> serde_json::Value {
    json!({
        "name": s.name,
        "fleet": s.fleet,
        "state": state_name(s),
        "init_pid": s.init_pid,
        "hostname": s.spec.hostname,
        "template": s.spec.template.display_name(),
        "spec": s.spec,
        "live": s.live,
        "usage": s.usage,
        "restarts": s.restarts,
        "last_exit": s.last_exit,
    })
}
