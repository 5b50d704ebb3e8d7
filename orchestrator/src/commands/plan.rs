//! `fleet plan`: observe every host, compare with the spec, print what `apply` would do.
//!
//! Also home of the pipeline the reconciling commands share ([`prepare`]): load, observe (one
//! session per host, kept for apply), place, diff, plan.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use fleet_protocol::Capacity;

use super::SpecArgs;
use crate::diff::{self, DiffOptions, HostObservation, Observed, Refusal};
use crate::model::Fleet;
use crate::observe::{self, Sessions};
use crate::plan::{self, Plan, render};
use crate::schedule;
use crate::transport::ConnectOptions;

/// Output of plan and apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// Options shared by every command that talks to the hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Hosts worked on at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallel: usize,
    /// Record unknown SSH host keys in known_hosts instead of refusing them. A changed key is
    /// always refused.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Seconds allowed to open each host's session.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub connect_timeout: u64,
    /// Seconds a node may take to answer one request (a whole host's batch) before its session
    /// is abandoned.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub request_timeout: u64,
}

impl ConnectArgs {
    /// As transport options.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            accept_new_host_keys: self.accept_new_host_keys,
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            ..ConnectOptions::default()
        }
    }
}

/// Options shared by plan and apply.
#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    /// Spec files.
    pub spec: SpecArgs,
    #[command(flatten)]
    /// Connection options.
    pub connect: ConnectArgs,
    /// Destroy this fleet's containers that the spec no longer names (never another fleet's).
    #[arg(long)]
    pub prune: bool,
    /// Let a container whose host changed be destroyed on the old host and created on the new
    /// one (its data is lost; migration does not exist yet).
    #[arg(long)]
    pub allow_recreate: bool,
}

/// Arguments of `fleet plan`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet plan -f fleet.yaml\n  fleet plan -f fleet.yaml --prune -o json\n\n\
Per host: + create, ~ live change (update, start, stop), ! restart, - destroy, -/+ recreate,\n\
with each changed field as old -> new, then a summary line.\n\n\
Exit status: 0 success; 1 error (including an unreachable host); with --detailed-exitcode,\n\
0 no changes, 2 changes pending, 1 error."
)]
pub struct Args {
    #[command(flatten)]
    reconcile: ReconcileArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    detailed_exitcode: bool,
}

/// Everything the reconciling commands need after observing.
pub struct Prepared {
    /// The desired fleet.
    pub fleet: Fleet,
    /// What was found.
    pub observed: Observed,
    /// The plan.
    pub plan: Plan,
    /// Open sessions, for apply.
    pub sessions: Sessions,
}

/// A tokio runtime for one command.
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

/// Loads the spec or prints its errors; `None` means the caller exits 1.
pub fn load(spec: &SpecArgs) -> Option<Fleet> {
    match spec.load() {
        Ok(f) => Some(f),
        Err(e) => {
            eprint!("{}", e.render());
            eprintln!("\n{e}");
            None
        }
    }
}

/// Observes every host, places the containers, diffs and plans.
pub async fn prepare(
    fleet: Fleet,
    connect: &ConnectArgs,
    opts: DiffOptions,
) -> miette::Result<Prepared> {
    let (observed, sessions) = observe::observe(&fleet, &connect.options(), connect.parallel).await;
    let mut capacities = std::collections::BTreeMap::<String, Capacity>::new();
    let mut current = schedule::Current::new();
    for (host, obs) in &observed.hosts {
        if let HostObservation::Reachable { node, containers } = obs {
            if let Some(n) = node {
                capacities.insert(host.clone(), n.capacity.clone());
            }
            for c in containers.iter().filter(|c| c.fleet == fleet.name) {
                current
                    .entry(c.name.clone())
                    .or_insert_with(|| host.clone());
            }
        }
    }
    let (assignment, unplaced) = match schedule::place(&fleet, &capacities, &current) {
        Ok(a) => (a, Vec::new()),
        Err(infeasible) => (infeasible.partial, infeasible.unplaced),
    };
    let mut d = diff::diff(&fleet, &assignment.as_current(), &observed, opts);
    // The diff calls them unplaced too; the scheduler knows why.
    d.refused.retain(|r| !r.host.is_empty());
    d.refused.extend(unplaced.into_iter().map(|u| Refusal {
        name: u.container,
        host: String::new(),
        reason: format!("cannot be placed: {}", u.reason),
    }));
    let plan = plan::plan(&fleet, d).map_err(|e| miette::miette!("{e}"))?;
    Ok(Prepared {
        fleet,
        observed,
        plan,
        sessions,
    })
}

/// Prints the unreachable hosts as errors; true if there was any.
pub fn report_unreachable(plan: &Plan) -> bool {
    for (host, why) in &plan.diff.unreachable {
        eprintln!("error: host {host} is unreachable: {why}");
    }
    !plan.diff.unreachable.is_empty()
}

/// Runs `fleet plan`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let opts = DiffOptions {
        prune: args.reconcile.prune,
        allow_recreate: args.reconcile.allow_recreate,
    };
    let rt = runtime()?;
    let prepared = rt.block_on(async {
        let p = prepare(fleet, &args.reconcile.connect, opts).await?;
        Ok::<_, miette::Report>(p)
    })?;
    for (host, batch) in crate::apply::journal::interrupted(&prepared.observed) {
        let note = crate::apply::journal::note(&host, &batch, "the next apply finishes it");
        match args.output {
            Output::Text => println!("note: {note}"),
            Output::Json => eprintln!("note: {note}"),
        }
    }
    match args.output {
        Output::Text => print!("{}", render::text(&prepared.plan)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::json(&prepared.plan))
                .map_err(|e| miette::miette!("{e}"))?
        ),
    }
    rt.block_on(observe::close_all(prepared.sessions));
    let unreachable = report_unreachable(&prepared.plan);
    Ok(if unreachable {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && !prepared.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks on the terminal before destroying or restarting; without a terminal, `yes` must be set.
/// Returns false (after saying why) when the user declined or could not be asked.
pub fn confirm(plan: &Plan, yes: bool) -> bool {
    if yes || !plan.is_destructive() {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: this plan destroys or restarts containers and there is no terminal to confirm \
             it on; pass --yes to apply it anyway. Nothing was changed."
        );
        return false;
    }
    eprint!("This plan destroys or restarts containers. Type \"yes\" to go on: ");
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() || line.trim() != "yes" {
        eprintln!("Cancelled. Nothing was changed.");
        return false;
    }
    true
}
