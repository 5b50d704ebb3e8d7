//! `fleet render`: the resolved desired state, sorted and deterministic, for reviewers to diff:
//! as a spec that loads back to the same fleet (YAML, the default) or as the model (JSON).

use std::process::ExitCode;

use miette::IntoDiagnostic;

use super::{Format, SpecArgs};

/// Arguments of `fleet render`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet render -f fleet.yaml > rendered.yaml\n  fleet plan -f rendered.yaml\n  \
fleet render -f specs/ -o json | jq '.containers | length'\n\n\
-o yaml (the default) writes a spec: one entry per container, sets expanded, profiles merged into\n\
resources, sizes in the spec's units, defaults left out. It validates, and plan and apply act on\n\
it exactly as on the files it came from. -o json writes the resolved model (what the nodes get)."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    /// Output format: yaml (a spec that loads back to the same fleet) or json (the model).
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
        Format::Yaml | Format::Text => crate::render::spec_yaml(&fleet).into_diagnostic()?,
    };
    print!("{text}");
    // The process ends here: freeing a 100,000-container fleet and its text one value at a time
    // would cost a tenth of a second for nothing.
    std::mem::forget((fleet, text));
    Ok(ExitCode::SUCCESS)
}
