//! One module per subcommand: its arguments and what it does. Shared argument groups (spec
//! files, connection options, the reconciling commands' options, output) and the helpers the
//! commands share (runtime, loading with rendered errors, confirmation) live here.

pub mod advise;
pub mod apply;
pub mod apply_saved;
pub mod bootstrap;
pub mod capacity;
pub mod clone;
pub mod destroy;
pub mod drain;
pub mod exec;
pub mod execute;
pub mod get;
pub mod get_hosts;
pub mod import;
pub mod lifecycle;
pub mod logs;
pub mod plan;
pub mod render;
pub mod snapshot;
pub mod status;
pub mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::diff::DiffOptions;
use crate::model::Fleet;
use crate::plan::Plan;
use crate::plan::target::Targets;
use crate::reconcile::{self, Reconciled};
use crate::resolve::{self, LoadError};
use crate::transport::ConnectOptions;

/// The embedded demo fleet used when no `-f` is given: one local host, a few busybox containers.
pub const DEMO_SPEC: &str = include_str!("../../../specs/local-demo.yaml");

/// `-f` spec paths, shared by every command that reads a fleet.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Spec file or directory (its *.yaml and *.yml in sorted order); repeat for several.
    /// Without it, the embedded local demo fleet is used.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
}

impl SpecArgs {
    /// Loads and resolves the named files, or the embedded demo, printing the spec's warnings
    /// on stderr.
    pub fn load(&self) -> Result<Fleet, LoadError> {
        let fleet = if self.files.is_empty() {
            resolve::load_str("<embedded>/specs/local-demo.yaml", DEMO_SPEC)
        } else {
            resolve::load(&self.files)
        }?;
        for warning in &fleet.warnings {
            eprint!("{warning}");
        }
        Ok(fleet)
    }
}

/// Machine or human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// Output of plan and apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For machines.
    Json,
}

impl Output {
    /// Prints `plan` in this format on stdout: the text of `plan`, or its JSON.
    pub fn print_plan(self, plan: &Plan) -> miette::Result<()> {
        match self {
            Output::Text => print!("{}", crate::plan::render::text(plan)),
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&crate::plan::render::json(plan))
                    .map_err(|e| miette::miette!("{e}"))?
            ),
        }
        Ok(())
    }
}

/// Output of `get` (containers and hosts alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetOutput {
    /// Name, host, state, PID, template, memory.
    Text,
    /// Also fleet, CPU, pids, disk.
    Wide,
    /// JSON.
    Json,
}

/// What a verb on one container names: the container, the spec it is in, how to reach the hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerArgs {
    /// Container name.
    pub name: String,
    #[command(flatten)]
    /// Spec files.
    pub spec: SpecArgs,
    #[command(flatten)]
    /// Connection options.
    pub connect: ConnectArgs,
}

/// Options shared by every command that talks to the hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Hosts worked on at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub parallel: usize,
    /// Record unknown SSH host keys in known_hosts instead of refusing them. A changed key is
    /// always refused.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Seconds allowed to open each host's session.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub connect_timeout: u64,
    /// Seconds a node may take to answer one request (a whole host's batch) before its session
    /// is abandoned.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub request_timeout: u64,
}

impl ConnectArgs {
    /// The reconcile pipeline for `fleet` over these connections, with `opts`, narrowed to
    /// `targets`.
    pub async fn reconcile(
        &self,
        fleet: Fleet,
        opts: DiffOptions,
        targets: &Targets,
    ) -> Result<Reconciled, reconcile::DecideError> {
        reconcile::reconcile_targeted(fleet, &self.options(), self.parallel, opts, targets).await
    }

    /// As transport options.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            accept_new_host_keys: self.accept_new_host_keys,
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            ..ConnectOptions::default()
        }
    }
}

/// Options shared by plan and apply.
#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    /// Spec files.
    pub spec: SpecArgs,
    #[command(flatten)]
    /// Connection options.
    pub connect: ConnectArgs,
    /// Destroy this fleet's containers that the spec no longer names (never another fleet's).
    #[arg(long)]
    pub prune: bool,
    /// Let a container whose host changed be destroyed on the old host and created on the new
    /// one instead of moved (its data is lost; the only way for a container without a disk).
    #[arg(long)]
    pub allow_recreate: bool,
    #[command(flatten)]
    /// Which containers to work on.
    pub select: SelectArgs,
}

/// `--target` and `-l`: limit the work to some containers (the plan lists what it left out).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Only this container, or a set's members (`web-{01..03}`, or a set's pattern as written);
    /// repeat for several.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Only containers with these labels (`app=web`, several joined by commas, all must match);
    /// with --target, containers matching both.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE")]
    pub selectors: Vec<String>,
}

impl SelectArgs {
    /// As a [`Targets`] filter, or the error naming the bad value.
    pub fn targets(&self) -> miette::Result<Targets> {
        Targets::parse(&self.targets, &self.selectors).map_err(|e| miette::miette!("{e}"))
    }
}

impl ReconcileArgs {
    /// What the diff may do, from `--prune` and `--allow-recreate`.
    pub fn diff_options(&self) -> DiffOptions {
        DiffOptions {
            prune: self.prune,
            allow_recreate: self.allow_recreate,
        }
    }

    /// Runs the reconcile pipeline for `fleet` with these options, narrowed to the selected
    /// containers. A target that names nothing is an error, and nothing is planned.
    pub async fn reconcile(&self, fleet: Fleet) -> miette::Result<Reconciled> {
        self.connect
            .reconcile(fleet, self.diff_options(), &self.select.targets()?)
            .await
            .map_err(|e| miette::miette!("{e}; nothing was changed"))
    }
}

/// A tokio runtime for one command.
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

/// Loads the spec or prints its errors; `None` means the caller exits 1.
pub fn load(spec: &SpecArgs) -> Option<Fleet> {
    match spec.load() {
        Ok(f) => Some(f),
        Err(e) => {
            eprint!("{}", e.render());
            eprintln!("\n{e}");
            None
        }
    }
}

/// Prints as errors what the plan leaves undone although the spec wants it (unreachable hosts,
/// refused containers); true if there was any, and the command exits 1: a CI job must not go
/// green while part of the fleet does not exist.
pub fn report_left_out(plan: &Plan) -> bool {
    for (host, why) in &plan.diff.unreachable {
        eprintln!("error: host {host} is unreachable: {why}");
    }
    let refused = plan.diff.refused.len();
    if refused > 0 {
        eprintln!(
            "error: {refused} container(s) refused and left as they are (listed under \"Refused\")"
        );
    }
    !plan.diff.unreachable.is_empty() || refused > 0
}

/// Asks on the terminal before destroying or restarting; without a terminal, `yes` must be set.
/// Returns false (after saying why) when the user declined or could not be asked.
pub fn confirm(plan: &Plan, yes: bool) -> bool {
    !plan.is_destructive() || confirm_text("this plan destroys or restarts containers", yes)
}

/// [`confirm`] for a verb that says itself what it would do (`what`, a clause).
pub fn confirm_text(what: &str, yes: bool) -> bool {
    if yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: {what} and there is no terminal to confirm it on; pass --yes to go on \
             anyway. Nothing was changed."
        );
        return false;
    }
    let mut first = what.chars();
    let what: String = first
        .next()
        .map(|c| c.to_uppercase().chain(first).collect())
        .unwrap_or_default();
    eprint!("{what}. Type \"yes\" to go on: ");
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() || line.trim() != "yes" {
        eprintln!("Cancelled. Nothing was changed.");
        return false;
    }
    true
}
