//! `fleet get containers`: every container on the spec's hosts as the nodes report it (state,
//! init PID, live limits read from the kernel), in a table, a wide table or JSON.
//! `fleet get hosts` is `get_hosts.rs`.

use std::fmt::Write as _;
use std::process::ExitCode;

use fleet_protocol::ContainerStatus;
use fleet_protocol::units::format_size;
use serde::Serialize;

use super::{ConnectArgs, GetOutput, SelectArgs, SpecArgs, load, runtime};
use crate::diff::HostObservation;
use crate::observe;

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Resource {
    /// Containers.
    Containers,
    /// Hosts: the fleet-node version that answers, kernel, cgroup version, capacity.
    Hosts,
}

/// Arguments of `fleet get`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet get containers -f fleet.yaml\n  fleet get containers -f fleet.yaml -o wide\n  fleet get containers -f fleet.yaml -o json\n  \
fleet get containers -f fleet.yaml -l app=web\n  fleet get containers -f fleet.yaml --target 'web-{01..03}'\n  \
fleet get hosts -f fleet.yaml -o wide\n\n\
--target and -l (containers only) keep the rows of the named containers or of those whose\n\
labels match; a --target name found on no host is an error."
)]
pub struct Args {
    /// What to list.
    #[arg(value_enum)]
    resource: Resource,
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    select: SelectArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = GetOutput::Text)]
    output: GetOutput,
}

#[derive(Serialize)]
struct Row<'a> {
    host: &'a str,
    #[serde(flatten)]
    status: &'a ContainerStatus,
}

/// Runs `fleet get`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let targets = args.select.targets()?;
    let rt = runtime()?;
    // Hosts show what their containers use, which nodes read only when asked.
    let (opts, parallel) = (args.connect.options(), args.connect.parallel);
    let usage = args.resource == Resource::Hosts;
    let observed = rt.block_on(observe::observe_then_close(
        &fleet.hosts,
        &opts,
        parallel,
        usage,
    ));
    if args.resource == Resource::Hosts {
        let failed = super::get_hosts::print(&observed, args.output)?;
        return Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut failed = false;
    for (host, obs) in &observed.hosts {
        match obs {
            HostObservation::Reachable { containers, .. } => {
                rows.extend(containers.iter().map(|status| Row { host, status }));
            }
            HostObservation::Unreachable { error } => {
                eprintln!("error: host {host} is unreachable: {error}");
                failed = true;
            }
        }
    }
    rows.retain(|r| {
        let group = fleet
            .container(&r.status.name)
            .filter(|_| r.status.fleet == fleet.name)
            .and_then(|c| c.placement.group.as_deref());
        targets.matches(&r.status.name, group, &r.status.spec.labels)
    });
    if let Some(missing) = targets
        .names()
        .find(|n| !rows.iter().any(|r| r.status.name == **n))
    {
        eprintln!("error: no container named {missing:?} on the spec's hosts");
        failed = true;
    }
    rows.sort_by(|a, b| (&a.status.name, a.host).cmp(&(&b.status.name, b.host)));
    let opt = |v: Option<u64>, f: fn(u64) -> String| v.map_or_else(|| "-".to_string(), f);
    match args.output {
        GetOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?
        ),
        GetOutput::Text | GetOutput::Wide => {
            let wide = args.output == GetOutput::Wide;
            let mut out = String::new();
            let _ = write!(
                out,
                "{:<24} {:<16} {:<8} {:>8} {:<10} {:>8}",
                "NAME", "HOST", "STATE", "PID", "TEMPLATE", "MEMORY"
            );
            if wide {
                let _ = write!(
                    out,
                    " {:<12} {:>6} {:>6} {:>8} {:>6}",
                    "FLEET", "CPU%", "UNITS", "DISK", "PIDS"
                );
            }
            out.push('\n');
            for r in &rows {
                let s = r.status;
                let _ = write!(
                    out,
                    "{:<24} {:<16} {:<8} {:>8} {:<10} {:>8}",
                    s.name,
                    r.host,
                    format!("{:?}", s.state).to_lowercase(),
                    s.init_pid.map_or_else(|| "-".into(), |p| p.to_string()),
                    s.spec.template.display_name(),
                    opt(s.live.memory, format_size),
                );
                if wide {
                    let _ = write!(
                        out,
                        " {:<12} {:>6} {:>6} {:>8} {:>6}",
                        s.fleet,
                        s.live
                            .cpu_limit
                            .map_or_else(|| "-".into(), |c| c.to_string()),
                        s.live
                            .cpu_units
                            .map_or_else(|| "-".into(), |c| c.to_string()),
                        opt(s.live.disk_space, format_size),
                        opt(s.live.pids, |p| p.to_string()),
                    );
                }
                out.push('\n');
            }
            print!("{out}");
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
