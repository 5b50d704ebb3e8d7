//! `fleet render`: the resolved desired state, sorted and deterministic, for reviewers to diff.

use std::process::ExitCode;

use miette::IntoDiagnostic;

use super::{Format, SpecArgs};

/// Arguments of `fleet render`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet render -f fleet.yaml > rendered.yaml\n  fleet render -f specs/ -o json | jq '.containers | length'"
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: Format,
}

/// Runs `fleet render`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let fleet = match args.spec.load() {
        Ok(f) => f,
        Err(e) => {
            eprint!("{}", e.render());
            eprintln!("\n{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let text = match args.output {
        Format::Json => serde_json::to_string_pretty(&fleet).into_diagnostic()? + "\n",
        Format::Yaml | Format::Text => crate::resolve::render::yaml(&fleet).into_diagnostic()?,
    };
    print!("{text}");
    // The process ends here: freeing a 100,000-container fleet and its text one value at a time
    // would cost a tenth of a second for nothing.
    std::mem::forget((fleet, text));
    Ok(ExitCode::SUCCESS)
}
