//! `fleet validate`: load, check and resolve the spec; print a one-line summary or every error
//! (as text, or with `-o json` as located objects for CI annotations).

use std::process::ExitCode;

use serde::Serialize;

use super::{Output, SpecArgs};
use crate::resolve::{Counts, LoadError};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::node::Pos;
use crate::spec::source::Sources;

/// Arguments of `fleet validate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet validate -f fleet.yaml\n  fleet validate -f specs/ -f extra.yaml\n  \
fleet validate -f fleet.yaml -o json | jq -r '.errors[] | \"\\(.file):\\(.line): \\(.message)\"'\n\n\
Exit status: 0 when the spec is valid, 1 when it has errors (all are printed, each as\n\
file:line:col: error: message, with the source line and a hint; with -o json, each error is an\n\
object with file, line, column, message, hint and related places)."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// `fleet validate -o json`'s document.
#[derive(Debug, Serialize)]
struct Verdict {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<CountsJson>,
    warnings: Vec<String>,
    errors: Vec<Located>,
}

#[derive(Debug, Serialize)]
struct CountsJson {
    hosts: usize,
    containers: usize,
    profiles: usize,
    templates: usize,
}

/// One error with its place (file, line and column are absent for a problem of the whole load).
#[derive(Debug, Serialize)]
struct Located {
    #[serde(flatten)]
    place: Option<Place>,
    message: String,
    hint: Option<String>,
    related: Vec<Related>,
}

#[derive(Debug, Serialize)]
struct Place {
    file: String,
    line: u32,
    column: u32,
}

#[derive(Debug, Serialize)]
struct Related {
    #[serde(flatten)]
    place: Place,
    note: String,
}

fn place(sources: &Sources, pos: Pos) -> Place {
    Place {
        file: sources
            .file(pos.file)
            .map_or_else(|| "<unknown>".to_string(), |f| f.name.clone()),
        line: pos.line,
        column: pos.column,
    }
}

fn located(sources: &Sources, d: &Diagnostic) -> Located {
    Located {
        place: d.pos.map(|p| place(sources, p)),
        message: d.message.clone(),
        hint: d.hint.clone(),
        related: d
            .related
            .iter()
            .map(|(p, note)| Related {
                place: place(sources, *p),
                note: note.clone(),
            })
            .collect(),
    }
}

fn errors_json(e: &LoadError) -> Verdict {
    Verdict {
        valid: false,
        fleet: None,
        counts: None,
        warnings: Vec::new(),
        errors: e
            .diagnostics
            .iter()
            .map(|d| located(&e.sources, d))
            .collect(),
    }
}

fn print_json(verdict: &Verdict) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(verdict).map_err(|e| miette::miette!("{e}"))?;
    println!("{text}");
    Ok(())
}

/// Runs `fleet validate`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let loaded = if args.spec.files.is_empty() {
        crate::resolve::load_str("<embedded>/specs/local-demo.yaml", super::DEMO_SPEC)
            .map(|f| (f, Counts::default()))
    } else {
        crate::resolve::load_counted(&args.spec.files)
    };
    match loaded {
        Ok((fleet, counts)) => {
            match args.output {
                Output::Text => {
                    for warning in &fleet.warnings {
                        eprint!("{warning}");
                    }
                    let plural = |n: usize, word: &str| {
                        format!("{n} {word}{}", if n == 1 { "" } else { "s" })
                    };
                    println!(
                        "valid: fleet \"{}\": {}, {} (after expansion), {}, {}",
                        fleet.name,
                        plural(fleet.hosts.len(), "host"),
                        plural(fleet.containers.len(), "container"),
                        plural(counts.profiles, "profile"),
                        plural(counts.templates, "tarball template"),
                    );
                }
                Output::Json => print_json(&Verdict {
                    valid: true,
                    fleet: Some(fleet.name.clone()),
                    counts: Some(CountsJson {
                        hosts: fleet.hosts.len(),
                        containers: fleet.containers.len(),
                        profiles: counts.profiles,
                        templates: counts.templates,
                    }),
                    warnings: fleet.warnings.clone(),
                    errors: Vec::new(),
                })?,
            }
            // The process ends here: freeing a 100,000-container fleet value by value would
            // cost a tenth of a second for nothing.
            std::mem::forget(fleet);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            match args.output {
                Output::Text => {
                    eprint!("{}", e.render());
                    eprintln!("\n{e}");
                }
                Output::Json => print_json(&errors_json(&e))?,
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
