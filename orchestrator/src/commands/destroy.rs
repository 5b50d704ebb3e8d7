//! `fleet destroy [NAME...]`: remove every container this fleet owns on the spec's hosts (like
//! `terraform destroy`), or only the named or selected ones; other fleets' containers are never
//! touched.

use std::process::ExitCode;

use super::SpecArgs;
use super::execute::{ExecuteArgs, execute_and_close};
use super::{ConnectArgs, SelectArgs, load, runtime};
use crate::diff::DiffOptions;

/// Arguments of `fleet destroy`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet destroy -f fleet.yaml\n  fleet destroy -f fleet.yaml --yes\n  \
fleet destroy -f fleet.yaml web-03 --yes\n  fleet destroy -f fleet.yaml -l tier=batch --yes\n\n\
Asks for confirmation on a terminal; without one it needs --yes. Only containers whose fleet\n\
is this spec's fleet are destroyed; with NAMEs, --target or -l, only those (the spec still\n\
names them: the next apply creates them again). A NAME on no host is an error and nothing is\n\
destroyed. Exit status: 0 when all were destroyed, else 1."
)]
pub struct Args {
    /// Only these containers (names or set patterns, as --target).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Destroy without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    #[command(flatten)]
    execute: ExecuteArgs,
}

/// Runs `fleet destroy`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(mut fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    // Nothing desired, prune on: every container of this fleet on its hosts is an extra.
    fleet.containers.clear();
    let opts = DiffOptions {
        prune: true,
        allow_recreate: false,
    };
    let mut select = args.select.clone();
    select.targets.extend(args.names.iter().cloned());
    let targets = select.targets()?;
    let rt = runtime()?;
    let prepared = rt
        .block_on(args.connect.reconcile(fleet, opts, &targets))
        .map_err(|e| miette::miette!("{e}; nothing was destroyed"))?;
    let opts = args.execute.options(args.connect.parallel, args.yes);
    execute_and_close(&rt, prepared, opts)
}
