//! `fleet apply`: plan, show the plan, confirm destroys and restarts, execute it over the same
//! sessions, report.

use std::process::ExitCode;

use super::execute::{ExecuteArgs, execute_and_close};
use super::{ReconcileArgs, load, runtime};

/// Arguments of `fleet apply`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet apply -f fleet.yaml\n  fleet apply -f fleet.yaml --prune --yes -o json\n  \
fleet apply -f fleet.yaml --target web-01   (only web-01; the rest is listed, not touched)\n  \
fleet apply -f fleet.yaml -l tier=front\n  \
fleet plan -f fleet.yaml --out plan.json && fleet apply plan.json\n\n\
Destroys and restarts ask for confirmation on a terminal; without one they need --yes.\n\
Each node holds an apply lock while it runs a batch: a second apply against the same host fails\n\
at once naming the holder, or waits up to --lock-timeout seconds.\n\
A second apply of the same spec prints \"No changes.\" and changes nothing.\n\n\
Exit status: 0 when everything was applied, 1 when anything failed, was refused (such as a\n\
container that cannot be placed) or a host was unreachable (each is printed with its host and\n\
container, and counted in the summary line).\n\n\
With a PLAN_FILE from `fleet plan --out`, exactly that plan is applied, without asking: the spec\n\
(the files it was made from, or -f) and every host must be as they were when it was made. If\n\
anything changed, nothing is applied, what changed is printed, and the exit status is 3."
)]
pub struct Args {
    /// A plan saved by `fleet plan --out FILE`, to apply exactly.
    #[arg(value_name = "PLAN_FILE")]
    plan: Option<std::path::PathBuf>,
    #[command(flatten)]
    reconcile: ReconcileArgs,
    /// Apply destroys and restarts without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    execute: ExecuteArgs,
}

/// Runs `fleet apply`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    if let Some(path) = &args.plan {
        return super::apply_saved::run(path, &args.reconcile, args.execute);
    }
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    let prepared = rt.block_on(args.reconcile.reconcile(fleet))?;
    let opts = args
        .execute
        .options(args.reconcile.connect.parallel, args.yes);
    execute_and_close(&rt, prepared, opts)
}
