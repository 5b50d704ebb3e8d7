//! `fleet plan`: observe every host, compare with the spec, print what `apply` would do (the
//! pipeline itself is [`crate::reconcile`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{Output, ReconcileArgs, load, report_left_out, runtime};
use crate::observe;
use crate::plan::saved::{PlanOptions, SavedPlan};

/// Arguments of `fleet plan`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet plan -f fleet.yaml\n  fleet plan -f fleet.yaml --prune -o json\n  \
fleet plan -f fleet.yaml --target web-01 --target 'db-{1..2}'\n  fleet plan -f fleet.yaml -l app=web\n  \
fleet plan -f fleet.yaml --out plan.json && fleet apply plan.json\n\n\
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
    /// Also save the plan to FILE, for `fleet apply FILE` to apply exactly it (or refuse it if
    /// the spec or the hosts changed since). The file holds the resolved spec (env values
    /// included) and is written readable by its owner only.
    #[arg(long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
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
    args.output.print_plan(&prepared.plan)?;
    rt.block_on(observe::close_all(prepared.sessions));
    if let Some(path) = &args.out {
        let r = &args.reconcile;
        let saved = SavedPlan::new(
            &prepared.fleet,
            crate::render::spec_yaml(&prepared.fleet).map_err(|e| miette::miette!("{e}"))?,
            r.spec
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            PlanOptions {
                prune: r.prune,
                allow_recreate: r.allow_recreate,
                targets: r.select.targets.clone(),
                selectors: r.select.selectors.clone(),
            },
            &prepared.observed,
            &prepared.plan,
        );
        write_private(path, &saved.to_text())
            .map_err(|e| miette::miette!("cannot write the plan to {}: {e}", path.display()))?;
        eprintln!(
            "Saved the plan to {}; `fleet apply {}` applies exactly it.",
            path.display(),
            path.display()
        );
    }
    let left_out = report_left_out(&prepared.plan);
    Ok(if left_out {
        ExitCode::FAILURE
    } else if args.detailed_exitcode && !prepared.plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `text` to `path` through a temporary file beside it, readable by its owner only, so
/// a reader never sees half a plan.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}
