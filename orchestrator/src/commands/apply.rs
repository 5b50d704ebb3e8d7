//! `fleet apply`: plan, show the plan, confirm destroys and restarts, execute it over the same
//! sessions, report.

use std::process::ExitCode;

use super::{Output, ReconcileArgs, confirm, load, report_left_out, runtime};
use crate::apply::progress::Progress;
use crate::apply::report::Report;
use crate::apply::{ApplyOptions, apply, journal};
use crate::observe;
use crate::plan::render;
use crate::reconcile::Reconciled;

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

/// How [`execute`] runs.
#[derive(Debug, Clone, Copy)]
pub struct ExecuteOptions {
    /// Hosts worked on at once.
    pub parallel: usize,
    /// Apply destroys and restarts without asking.
    pub yes: bool,
    /// Report format.
    pub output: Output,
    /// Seconds each node waits for its apply lock.
    pub lock_timeout_secs: u32,
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

/// Prints the plan, confirms, applies and reports; shared with `fleet destroy`. A host whose
/// node reported a cut-off batch gets a note, and an empty batch when the plan sends it nothing,
/// so that its journal is cleared.
pub fn execute(
    rt: &tokio::runtime::Runtime,
    prepared: &mut Reconciled,
    opts: ExecuteOptions,
) -> miette::Result<ExitCode> {
    let fleet = prepared.fleet.name.clone();
    let plan = &prepared.plan;
    let output = opts.output;
    let interrupted = journal::interrupted(&prepared.observed);
    let mut cut_notes: Vec<String> = interrupted
        .iter()
        .map(|(host, batch)| journal::note(host, batch, "this apply finishes it"))
        .collect();
    cut_notes.extend(journal::moves_cut_off(
        &prepared.observed,
        "this apply finishes or rolls it back",
    ));
    if output == Output::Text {
        for note in &cut_notes {
            println!("note: {note}");
        }
        print!("{}", render::text(plan));
    }
    let left_out = report_left_out(plan);
    let user = journal::local_user();
    let idle: Vec<String> = interrupted
        .iter()
        .map(|(host, _)| host.clone())
        .filter(|h| !plan.batches.iter().any(|b| &b.host == h))
        .collect();
    if plan.is_empty() {
        let cleared = rt.block_on(journal::clear(
            &fleet,
            &idle,
            &mut prepared.sessions,
            opts.lock_timeout_secs,
            &user,
        ));
        for note in &cleared {
            eprintln!("warning: {note}");
        }
        let mut report = Report::new(&fleet, Vec::new(), Default::default(), 0);
        report.refuse(&plan.diff.refused);
        report.notes.extend(cut_notes);
        report.notes.extend(cleared);
        match output {
            Output::Json => print_json(&report)?,
            // Nothing to do, but not everything is there: say so in the apply's own words
            // (the notes were printed already).
            Output::Text if !report.refused.is_empty() => {
                report.notes.clear();
                print!("{}", report.text());
            }
            Output::Text => {}
        }
        return Ok(if left_out {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if !confirm(plan, opts.yes) {
        return Ok(ExitCode::FAILURE);
    }
    let progress = Progress::for_plan(plan, output == Output::Json);
    let mut report = rt.block_on(apply(
        &fleet,
        plan,
        &mut prepared.sessions,
        ApplyOptions {
            parallel: opts.parallel,
            lock_timeout_secs: opts.lock_timeout_secs,
            user: user.clone(),
        },
        &progress,
    ));
    progress.finish();
    report.refuse(&plan.diff.refused);
    report.notes.extend(cut_notes);
    report.notes.extend(rt.block_on(journal::clear(
        &fleet,
        &idle,
        &mut prepared.sessions,
        opts.lock_timeout_secs,
        &user,
    )));
    for (host, why) in &plan.diff.unreachable {
        report
            .notes
            .push(format!("{host} was unreachable and not touched: {why}"));
    }
    match output {
        Output::Text => print!("{}", report.text()),
        Output::Json => print_json(&report)?,
    }
    Ok(if report.ok() && !left_out {
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
