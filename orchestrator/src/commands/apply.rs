//! `fleet apply`: plan, show the plan, confirm destroys and restarts, execute it over the same
//! sessions, report.

use std::process::ExitCode;

use super::execute::{ExecuteOptions, execute};
use super::{Output, ReconcileArgs, load, runtime};
use crate::observe;

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
    /// Output format of the report (the plan is printed as text first unless json).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Seconds to wait for a host's apply lock when another apply holds it (0: fail at once,
    /// naming the holder).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    lock_timeout: u32,
}

/// Runs `fleet apply`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    if let Some(path) = &args.plan {
        return super::apply_saved::run(path, &args.reconcile, args.output, args.lock_timeout);
    }
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    let mut prepared = rt.block_on(args.reconcile.reconcile(fleet))?;
    let code = execute(
        &rt,
        &mut prepared,
        ExecuteOptions {
            parallel: args.reconcile.connect.parallel,
            yes: args.yes,
            output: args.output,
            lock_timeout_secs: args.lock_timeout,
        },
    )?;
    rt.block_on(observe::close_all(prepared.sessions));
    Ok(code)
}
