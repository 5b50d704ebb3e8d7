//! `fleet drain HOST` and `fleet move NAME --to HOST`: plan the moves (`migrate::targeted`),
//! print them, and with confirmation carry them out exactly as `fleet apply` would, over the
//! same sessions. `--dry-run` prints the plan and changes nothing.

use std::process::ExitCode;

use super::execute::{ExecuteOptions, execute};
use super::{ConnectArgs, Output, SpecArgs, load, report_left_out, runtime};
use crate::diff::DiffOptions;
use crate::migrate::targeted;
use crate::observe;
use crate::reconcile::reconcile;

/// What `fleet drain` and `fleet move` share.
#[derive(Debug, clap::Args)]
pub struct Common {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Print the plan of moves and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Move without asking (a live move freezes a container for its final dump; a cold one stops
    /// it while its disk travels; the plan says which and why).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Output format (of the plan with --dry-run, else of the report).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Seconds to wait for a host's apply lock when another apply holds it.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    lock_timeout: u32,
}

/// Arguments of `fleet drain`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet drain node-3 -f fleet.yaml --dry-run\n  fleet drain node-3 -f fleet.yaml --yes\n\n\
Moves every container of this fleet off HOST, to where `fleet capacity --drain HOST` places\n\
them; the rest of the fleet stays as it is. Containers the spec pins to HOST are refused (the\n\
next apply would move them back): change their `host:` first. Other pending changes wait for\n\
`fleet apply`. Exit status: 0 when every container left (or would leave), 1 otherwise."
)]
pub struct DrainArgs {
    /// The host to empty.
    host: String,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `fleet move`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet move web-01 --to node-2 -f fleet.yaml --dry-run\n  fleet move web-01 --to node-2 -f fleet.yaml --yes\n\n\
Moves one container that the spec does not pin; the scheduler keeps it there afterwards (a\n\
running container stays where it runs while it fits). A pinned container is moved by changing\n\
its `host:` in the spec and running `fleet apply`. Exit status: 0 when it moved (or would), else 1."
)]
pub struct MoveArgs {
    /// The container to move.
    name: String,
    /// The host it goes to.
    #[arg(long, value_name = "HOST")]
    to: String,
    #[command(flatten)]
    common: Common,
}

/// Runs `fleet drain`.
pub fn run_drain(args: DrainArgs) -> miette::Result<ExitCode> {
    let host = args.host;
    run(args.common, |fleet, observed| {
        targeted::drain(fleet, observed, &host)
    })
}

/// Runs `fleet move`.
pub fn run_move(args: MoveArgs) -> miette::Result<ExitCode> {
    let (name, to) = (args.name, args.to);
    run(args.common, |fleet, observed| {
        targeted::move_one(fleet, observed, &name, &to)
    })
}

fn run(
    args: Common,
    planner: impl FnOnce(
        &crate::model::Fleet,
        &crate::diff::Observed,
    ) -> Result<crate::plan::Plan, targeted::TargetError>,
) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    let connect = &args.connect;
    let mut prepared = rt
        .block_on(reconcile(
            fleet,
            &connect.options(),
            connect.parallel,
            DiffOptions::default(),
        ))
        .map_err(|e| miette::miette!("{e}"))?;
    let planned = planner(&prepared.fleet, &prepared.observed);
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            rt.block_on(observe::close_all(prepared.sessions));
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let incomplete = !plan.diff.refused.is_empty() || !plan.diff.skipped.is_empty();
    prepared.plan = plan;
    let code = if args.dry_run {
        args.output.print_plan(&prepared.plan)?;
        match report_left_out(&prepared.plan) || incomplete {
            true => ExitCode::FAILURE,
            false => ExitCode::SUCCESS,
        }
    } else {
        let code = execute(
            &rt,
            &mut prepared,
            ExecuteOptions {
                parallel: connect.parallel,
                yes: args.yes,
                output: args.output,
                lock_timeout_secs: args.lock_timeout,
            },
        )?;
        if incomplete { ExitCode::FAILURE } else { code }
    };
    rt.block_on(observe::close_all(prepared.sessions));
    Ok(code)
}
