//! `fleet start|stop|restart NAME...`: one verb on named containers, wherever they run, without
//! touching the rest of the fleet or the spec (like `incus start` or `docker stop`). The names
//! must be the spec's; each is found on the host that holds it, and the verb travels as a plan
//! of start and stop steps through the same apply as `fleet apply` (per-host batches, the apply
//! lock, progress, the report and its exit status).

use std::process::ExitCode;

use fleet_protocol::ContainerState;

use super::execute::{ExecuteArgs, execute_and_close};
use super::{ConnectArgs, SpecArgs, load, runtime};
use crate::diff::{Change, Diff, HostObservation};
use crate::observe;
use crate::plan::target::Targets;
use crate::reconcile::Reconciled;

/// Which verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Start stopped containers.
    Start,
    /// Stop running ones.
    Stop,
    /// Stop (if running), then start.
    Restart,
}

/// Arguments of `fleet start`, `fleet stop` and `fleet restart`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  fleet stop -f fleet.yaml web-01\n  \
fleet restart -f fleet.yaml 'web-{01..03}' db\n  fleet start -f fleet.yaml web-01 -o json\n\n\
Names are the spec's (or a set's pattern); a name the spec does not have is an error and nothing\n\
is changed. The spec is not edited: the next `fleet apply` brings a container back to its\n\
spec's state (write `state: stopped` to keep it stopped). A container already in the state asked\n\
for is left alone (said so). Exit status: 0 when every verb succeeded, 1 otherwise.")]
pub struct Args {
    /// Containers (names or set patterns such as `web-{01..03}`).
    #[arg(value_name = "NAME", required = true)]
    names: Vec<String>,
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    execute: ExecuteArgs,
}

/// Runs the verb.
pub fn run(verb: Verb, args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let targets = Targets::parse(&args.names, &[]).map_err(|e| miette::miette!("{e}"))?;
    let chosen: Vec<String> = fleet
        .containers
        .iter()
        .filter(|c| targets.matches(&c.spec.name, c.placement.group.as_deref(), &c.spec.labels))
        .map(|c| c.spec.name.clone())
        .collect();
    if let Some(why) = targets
        .names()
        .find_map(|n| super::exec::not_in_spec(&fleet, n))
    {
        return Err(miette::miette!("{why}; nothing was changed"));
    }
    if chosen.is_empty() {
        return Err(miette::miette!(
            "no container of the spec matches {}; nothing was changed",
            args.names.join(" ")
        ));
    }
    let rt = runtime()?;
    let (observed, sessions) = rt.block_on(observe::observe(
        &fleet,
        &args.connect.options(),
        args.connect.parallel,
    ));
    let mut diff = Diff {
        fleet: fleet.name.clone(),
        ..Diff::default()
    };
    let mut missing = Vec::new();
    for name in &chosen {
        let found = observed.hosts.iter().find_map(|(host, obs)| match obs {
            HostObservation::Reachable { containers, .. } => containers
                .iter()
                .find(|c| &c.name == name && c.fleet == fleet.name)
                .map(|c| (host.clone(), c.state)),
            HostObservation::Unreachable { .. } => None,
        });
        let Some((host, state)) = found else {
            missing.push(name.as_str());
            continue;
        };
        let change = Change {
            host: host.clone(),
            name: name.clone(),
            ..Change::default()
        };
        let running = state == ContainerState::Running;
        match verb {
            Verb::Start | Verb::Stop if running == (verb == Verb::Start) => {
                let already = if running { "running" } else { "stopped" };
                eprintln!("note: {name} on {host} is already {already}; left alone");
            }
            Verb::Start => diff.start.push(change),
            Verb::Stop => diff.stop.push(change),
            Verb::Restart => {
                if running {
                    diff.stop.push(change.clone());
                }
                diff.start.push(change);
            }
        }
    }
    if !missing.is_empty() {
        rt.block_on(observe::close_all(sessions));
        for (host, obs) in &observed.hosts {
            if let HostObservation::Unreachable { error } = obs {
                eprintln!("error: host {host} is unreachable: {error}");
            }
        }
        return Err(miette::miette!(
            "not found on any reachable host: {} (run `fleet apply` to create it); nothing was \
             changed",
            missing.join(", ")
        ));
    }
    let plan = crate::plan::plan(&fleet, diff).map_err(|e| miette::miette!("{e}"))?;
    let prepared = Reconciled {
        fleet,
        observed,
        plan,
        sessions,
    };
    // The user named the containers on the command line: that is the confirmation.
    let opts = args.execute.options(args.connect.parallel, true);
    execute_and_close(&rt, prepared, opts)
}
