//! What every command that changes hosts does once it has a plan (`fleet apply`, `apply
//! PLAN_FILE`, `destroy`, `drain`, `start`/`stop`/`restart`): print the plan, confirm, apply
//! it over the observed sessions, finish cut-off batches' journals, report. Its own module so
//! that those commands share it without importing each other.

use std::process::ExitCode;

use super::{Output, confirm, report_left_out};
use crate::apply::progress::Progress;
use crate::apply::report::Report;
use crate::apply::{ApplyOptions, apply, journal};
use crate::plan::render;
use crate::reconcile::Reconciled;

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

/// The report and lock options of every command that changes hosts.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ExecuteArgs {
    /// Output format of the report (the plan is printed as text first unless json).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Seconds to wait for a host's apply lock when another apply holds it (0: fail at once,
    /// naming the holder).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub lock_timeout: u32,
}

impl ExecuteArgs {
    /// As [`ExecuteOptions`], working on `parallel` hosts at once; `yes` when the destroys and
    /// restarts need not be asked about.
    pub fn options(self, parallel: usize, yes: bool) -> ExecuteOptions {
        ExecuteOptions {
            parallel,
            yes,
            output: self.output,
            lock_timeout_secs: self.lock_timeout,
        }
    }
}

/// [`execute`], then the sessions closed: the end of every command that changes hosts.
pub fn execute_and_close(
    rt: &tokio::runtime::Runtime,
    mut prepared: Reconciled,
    opts: ExecuteOptions,
) -> miette::Result<ExitCode> {
    let code = execute(rt, &mut prepared, opts)?;
    rt.block_on(crate::observe::close_all(prepared.sessions));
    Ok(code)
}

/// Prints the plan, confirms, applies and reports. A host whose node reported a cut-off batch
/// gets a note, and an empty batch when the plan sends it nothing, so that its journal is
/// cleared.
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
