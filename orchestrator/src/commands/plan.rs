//! `fleet plan`: observe every host, compare with the spec, print what `apply` would do (the
//! pipeline itself is [`crate::reconcile`]).

use std::process::ExitCode;

use super::{Output, ReconcileArgs, load, report_left_out, runtime};
use crate::observe;
use crate::plan::render;

/// Arguments of `fleet plan`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet plan -f fleet.yaml\n  fleet plan -f fleet.yaml --prune -o json\n  \
fleet plan -f fleet.yaml --target web-01 --target 'db-{1..2}'\n  fleet plan -f fleet.yaml -l app=web\n\n\
Per host: + create, ~ live change (update, start, stop), ! restart, - destroy, -/+ recreate,\n\
with each changed field as old -> new, then a summary line. With --target or -l, only the\n\
matching containers are planned; the others' pending work is listed under \"Not targeted\".\n\n\
Exit status: 0 success; 1 error (including an unreachable host or a refused container, such as\n\
one that cannot be placed); with --detailed-exitcode, 0 no changes, 2 changes pending, 1 error."
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

/// Runs `fleet plan`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    let prepared = rt.block_on(args.reconcile.reconcile(fleet))?;
    let moves = crate::apply::journal::moves_cut_off(
        &prepared.observed,
        "the next apply finishes or rolls it back",
    );
    for (host, batch) in crate::apply::journal::interrupted(&prepared.observed) {
        let note = crate::apply::journal::note(&host, &batch, "the next apply finishes it");
        match args.output {
            Output::Text => println!("note: {note}"),
            Output::Json => eprintln!("note: {note}"),
        }
    }
    for note in moves {
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
    let left_out = report_left_out(&prepared.plan);
    Ok(if left_out {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && !prepared.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
