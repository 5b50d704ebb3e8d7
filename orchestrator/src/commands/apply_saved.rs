//! `fleet apply PLAN_FILE`: apply a plan saved by `fleet plan --out`, exactly, or refuse it when
//! the spec or the hosts changed since (exit 3, nothing changed), naming what changed. The
//! checks are `plan::saved`'s; this file reads the file, loads the spec, observes and applies.

use std::path::Path;
use std::process::ExitCode;

use super::execute::{ExecuteArgs, execute_and_close};
use super::{ReconcileArgs, SpecArgs, load, runtime};
use crate::observe;
use crate::plan::saved::{self, SavedPlan, SavedPlanError};
use crate::plan::target::Targets;

/// Exit status of a stale saved plan: nothing was changed; plan again.
pub const STALE: u8 = 3;

/// Applies the plan saved in `path`; `args` may name the spec files to check it against (else
/// the files the plan was made from), and the apply's output and lock options.
pub fn run(path: &Path, args: &ReconcileArgs, exec: ExecuteArgs) -> miette::Result<ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {}: {e}; nothing was changed", path.display());
        Ok(ExitCode::FAILURE)
    };
    if args.prune
        || args.allow_recreate
        || !args.select.targets.is_empty()
        || !args.select.selectors.is_empty()
    {
        return fail(
            &"--prune, --allow-recreate, --target and -l come from the saved plan; \
                      give them to `fleet plan --out` instead",
        );
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(&format!("cannot read it: {e}")),
    };
    let saved = match SavedPlan::parse(&text) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let spec = if args.spec.files.is_empty() {
        SpecArgs {
            files: saved.spec_files.iter().map(Into::into).collect(),
        }
    } else {
        args.spec.clone()
    };
    let Some(fleet) = load(&spec) else {
        eprintln!("error: the spec the plan is checked against does not load; nothing was changed");
        return Ok(ExitCode::FAILURE);
    };
    if fleet.name != saved.fleet {
        return fail(&SavedPlanError::OtherFleet {
            saved: saved.fleet.clone(),
            spec: fleet.name.clone(),
        });
    }
    let opts = &saved.options;
    let targets =
        Targets::parse(&opts.targets, &opts.selectors).map_err(|e| miette::miette!("{e}"))?;
    let rt = runtime()?;
    let connect = &args.connect;
    let diff_opts = crate::diff::DiffOptions {
        prune: opts.prune,
        allow_recreate: opts.allow_recreate,
    };
    let prepared = match rt.block_on(connect.reconcile(fleet, diff_opts, &targets)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: the saved plan is stale: {e}; nothing was changed");
            return Ok(ExitCode::from(STALE));
        }
    };
    let stale = saved::staleness(&saved, &prepared.fleet, &prepared.observed, &prepared.plan);
    if !stale.is_empty() {
        rt.block_on(observe::close_all(prepared.sessions));
        eprintln!(
            "error: the saved plan {} is stale; nothing was changed:",
            path.display()
        );
        for line in &stale {
            eprintln!("  {line}");
        }
        eprintln!(
            "Make a new plan with `fleet plan --out {}` and review it.",
            path.display()
        );
        return Ok(ExitCode::from(STALE));
    }
    // Reviewing the saved plan was the confirmation.
    execute_and_close(&rt, prepared, exec.options(connect.parallel, true))
}
