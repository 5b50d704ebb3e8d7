//! The command line as typed values (clap derive). Each subcommand's arguments and behaviour live
//! in `commands/<verb>.rs`; this file only lists them.

use clap::{CommandFactory, Parser, Subcommand};
use miette::{IntoDiagnostic, WrapErr};

use crate::commands;

/// Fleet: declarative system containers on many hosts.
#[derive(Debug, Parser)]
#[command(
    name = "fleet",
    version,
    about = "Declarative, kube-free orchestration of Linux system containers on many hosts",
    long_about = "Fleet reads a fleet's hosts, profiles, templates and containers from YAML \
                  files and makes the hosts match them.\n\n\
                  Without -f, commands use the embedded demo fleet: one local host, no SSH needed.",
    after_help = "Examples:\n  fleet validate -f fleet.yaml\n  fleet render -f specs/ -o json\n  \
                  fleet plan -f fleet.yaml\n  fleet apply -f fleet.yaml\n  \
                  fleet exec web-01 -- /bin/sh -c 'echo $$'"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check spec files and report every error with file:line:column.
    Validate(commands::validate::Args),
    /// Print the fully resolved desired state (sets expanded, profiles merged).
    Render(commands::render::Args),
    /// Show how the hosts differ from the spec and what apply would do.
    Plan(commands::plan::Args),
    /// Make every host match the spec.
    Apply(commands::apply::Args),
    /// Per container: in sync, drifted, missing, or not in the spec.
    Status(commands::status::Args),
    /// List what runs on the spec's hosts.
    Get(commands::get::Args),
    /// Remove every container this fleet owns on the spec's hosts (or only the named ones).
    Destroy(commands::destroy::Args),
    /// Start the named containers, wherever they are (the spec is not changed).
    Start(commands::lifecycle::Args),
    /// Stop the named containers, wherever they are (the spec is not changed).
    Stop(commands::lifecycle::Args),
    /// Stop and start the named containers, wherever they are.
    Restart(commands::lifecycle::Args),
    /// Run a command in a container on whichever host it is.
    Exec(commands::exec::Args),
    /// Print a container's console log from whichever host it is (--follow to keep printing).
    Logs(commands::logs::Args),
    /// Move every container of this fleet off a host (live where both nodes can; --dry-run to plan).
    Drain(commands::drain::DrainArgs),
    /// Move one container to another host (live where both nodes can; --dry-run to plan only).
    Move(commands::drain::MoveArgs),
    /// Take, list, restore or delete snapshots of a container's data on its host.
    Snapshot(commands::snapshot::Args),
    /// Make a container of the spec from a copy of another's data, on that one's host.
    Clone(commands::clone::Args),
    /// Install or upgrade fleet-node on every host of the spec.
    Bootstrap(commands::bootstrap::Args),
    /// Density planning: allocated versus capacity per host, room for more, what-if, drain.
    Capacity(commands::capacity::Args),
    /// Print a shell completion script for fleet.
    #[command(after_help = "Examples:\n  \
                  fleet completion bash > /usr/share/bash-completion/completions/fleet\n  \
                  fleet completion zsh > /usr/local/share/zsh/site-functions/_fleet\n  \
                  fleet completion fish > ~/.config/fish/completions/fleet.fish")]
    Completion(cli_docs::CompletionArgs),
    /// Write man pages for fleet and each of its verbs (fleet.1, fleet-apply.1, ...).
    #[command(
        after_help = "Example:\n  fleet man-pages /usr/local/share/man/man1 && man fleet-apply"
    )]
    ManPages(cli_docs::ManPagesArgs),
    /// Print a spec made from another system's configs (OpenVZ).
    Import(commands::import::Args),
    /// Suggest memory limits from what containers used (a diff of the spec; applies nothing).
    Advise(commands::advise::Args),
}

impl Command {
    /// Runs the subcommand; the exit code is the command's verdict.
    pub fn run(self) -> miette::Result<std::process::ExitCode> {
        match self {
            Command::Validate(args) => commands::validate::run(args),
            Command::Render(args) => commands::render::run(args),
            Command::Plan(args) => commands::plan::run(args),
            Command::Apply(args) => commands::apply::run(args),
            Command::Status(args) => commands::status::run(args),
            Command::Get(args) => commands::get::run(args),
            Command::Destroy(args) => commands::destroy::run(args),
            Command::Start(args) => {
                commands::lifecycle::run(commands::lifecycle::Verb::Start, args)
            }
            Command::Stop(args) => commands::lifecycle::run(commands::lifecycle::Verb::Stop, args),
            Command::Restart(args) => {
                commands::lifecycle::run(commands::lifecycle::Verb::Restart, args)
            }
            Command::Exec(args) => commands::exec::run(args),
            Command::Logs(args) => commands::logs::run(args),
            Command::Drain(args) => commands::drain::run_drain(args),
            Command::Move(args) => commands::drain::run_move(args),
            Command::Snapshot(args) => commands::snapshot::run(args),
            Command::Clone(args) => commands::clone::run(args),
            Command::Bootstrap(args) => commands::bootstrap::run(args),
            Command::Capacity(args) => commands::capacity::run(args),
            Command::Completion(args) => {
                let mut out = std::io::stdout().lock();
                cli_docs::write_completion(args.shell, Cli::command(), "fleet", &mut out);
                Ok(std::process::ExitCode::SUCCESS)
            }
            Command::ManPages(args) => {
                let pages = cli_docs::write_man_pages(Cli::command(), &args.dir)
                    .into_diagnostic()
                    .wrap_err_with(|| {
                        format!("cannot write man pages to {}", args.dir.display())
                    })?;
                for page in pages {
                    println!("{}", page.display());
                }
                Ok(std::process::ExitCode::SUCCESS)
            }
            Command::Import(args) => commands::import::run(args),
            Command::Advise(args) => commands::advise::run(args),
        }
    }
}
