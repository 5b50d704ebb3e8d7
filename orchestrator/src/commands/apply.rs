//! `fleet apply`: plan, show the plan, confirm destroys and restarts, execute it over the same
//! sessions, report.

use std::process::ExitCode;

use super::plan::{Output, ReconcileArgs, confirm, load, prepare, report_unreachable, runtime};
use crate::apply::progress::Progress;
use crate::apply::report::Report;
use crate::apply::{ApplyOptions, apply};
use crate::diff::DiffOptions;
use crate::observe;
use crate::plan::{Plan, render};

/// What every report says about the node's apply lock, until the protocol has one.
pub const NO_LOCK_NOTE: &str = "fleet-node has no per-host apply lock yet: two applies against \
                                the same host at once are not prevented";

/// Arguments of `fleet apply`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet apply -f fleet.yaml\n  fleet apply -f fleet.yaml --prune --yes -o json\n\n\
Destroys and restarts ask for confirmation on a terminal; without one they need --yes.\n\
A second apply of the same spec prints \"No changes.\" and changes nothing.\n\n\
Exit status: 0 when everything was applied, 1 when anything failed or a host was unreachable\n\
(each failure is printed with its host and container)."
)]
pub struct Args {
    #[command(flatten)]
    reconcile: ReconcileArgs,
    /// Apply destroys and restarts without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Output format of the report (the plan is printed as text first unless json).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Runs `fleet apply`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let opts = DiffOptions {
        prune: args.reconcile.prune,
        allow_recreate: args.reconcile.allow_recreate,
    };
    let rt = runtime()?;
    let mut prepared = rt.block_on(prepare(fleet, &args.reconcile.connect, opts))?;
    let code = execute(
        &rt,
        &prepared.fleet.name.clone(),
        &prepared.plan,
        &mut prepared.sessions,
        args.reconcile.connect.parallel,
        args.yes,
        args.output,
    )?;
    rt.block_on(observe::close_all(prepared.sessions));
    Ok(code)
}

/// Prints the plan, confirms, applies and reports; shared with `fleet destroy`.
pub fn execute(
    rt: &tokio::runtime::Runtime,
    fleet: &str,
    plan: &Plan,
    sessions: &mut observe::Sessions,
    parallel: usize,
    yes: bool,
    output: Output,
) -> miette::Result<ExitCode> {
    if output == Output::Text {
        print!("{}", render::text(plan));
    }
    let unreachable = report_unreachable(plan);
    if plan.is_empty() {
        if output == Output::Json {
            let report = Report::new(fleet, Vec::new(), Default::default(), 0);
            print_json(&report)?;
        }
        return Ok(if unreachable {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if !confirm(plan, yes) {
        return Ok(ExitCode::FAILURE);
    }
    let progress = Progress::for_plan(plan, output == Output::Json);
    let mut report = rt.block_on(apply(
        fleet,
        plan,
        sessions,
        ApplyOptions { parallel },
        &progress,
    ));
    progress.finish();
    report.notes.push(NO_LOCK_NOTE.into());
    for (host, why) in &plan.diff.unreachable {
        report
            .notes
            .push(format!("{host} was unreachable and not touched: {why}"));
    }
    match output {
        Output::Text => print!("{}", report.text()),
        Output::Json => print_json(&report)?,
    }
    Ok(if report.ok() && !unreachable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_json(report: &Report) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(|e| miette::miette!("{e}"))?;
    println!("{text}");
    Ok(())
}
