//! `fleet validate`: load, check and resolve the spec; print a one-line summary or every error.

use std::process::ExitCode;

use super::SpecArgs;

/// Arguments of `fleet validate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet validate -f fleet.yaml\n  fleet validate -f specs/ -f extra.yaml\n\n\
Exit status: 0 when the spec is valid, 1 when it has errors (all are printed, each as\n\
file:line:col: error: message, with the source line and a hint)."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
}

/// Runs `fleet validate`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    match args.spec.load() {
        Ok(fleet) => {
            let profiles: std::collections::BTreeSet<&str> = fleet
                .containers
                .iter()
                .map(|c| c.spec.template.display_name())
                .collect();
            println!(
                "valid: fleet \"{}\": {} hosts, {} containers, {} templates in use",
                fleet.name,
                fleet.hosts.len(),
                fleet.containers.len(),
                profiles.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{}", e.render());
            eprintln!("\n{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
