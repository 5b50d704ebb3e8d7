//! `fleet advise -f fleet.yaml`: reads every host's memory counters and prints edits of the
//! spec as a unified diff, each with the figures behind it. Changes nothing. Thin: the rules,
//! the positions and the diff are `crate::advise`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use fleet_protocol::units::format_size;

use super::{ConnectArgs, Output, SpecArgs, load, runtime};
use crate::advise::rules::{Direction, MemoryFigures};
use crate::advise::{self, locate};
use crate::observe::HostObservation;
use crate::spec::{self, Diagnostics, Loaded};

/// Arguments of `fleet advise`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Reads each running container's memory counters from its host (the limit, the \
                  most it ever used since it started, and failcnt, how often it hit the limit) \
                  and prints edits of your spec as a unified diff: a raise for a container that \
                  hit its limit, a cut for one that never used half. The diff edits the value \
                  where it is written (the container's entry, its set's entry, or its profile) \
                  and keeps the rest of the file as it is. Nothing is applied: review it, apply \
                  it with `git apply` or `patch -p1`, commit, then `fleet apply`.\n\n\
                  A value shared by several containers (a set such as web-{01..20}, or a \
                  profile) is raised when any of them hit the limit, and lowered only when all \
                  of them, running, used under half of it; the advice says which.",
    after_help = "Examples:\n  fleet advise -f fleet.yaml\n  fleet advise -f fleet.yaml | git apply\n  \
                  fleet advise -f fleet.yaml -o json | jq '.suggestions[] | {holder, to}'\n\n\
                  Exit status: 0 when nothing needs a change, 2 when edits are suggested, 1 on \
                  error."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Runs `fleet advise`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let loaded = raw(&args.spec);
    let located = locate::locate(&loaded);
    let rt = runtime()?;
    let observed = rt.block_on(crate::observe::observe_then_close(
        &fleet.hosts,
        &args.connect.options(),
        args.connect.parallel,
        true,
    ));
    let mut unreachable = false;
    let mut figures = BTreeMap::new();
    for (host, obs) in &observed.hosts {
        match obs {
            HostObservation::Unreachable { error } => {
                eprintln!(
                    "warning: host {host} is unreachable ({error}); its containers get no advice"
                );
                unreachable = true;
            }
            HostObservation::Reachable { containers, .. } => {
                for c in containers.iter().filter(|c| c.fleet == fleet.name) {
                    let (Some(usage), Some(limit)) =
                        (c.usage, c.live.memory.or(c.spec.resources.memory))
                    else {
                        continue;
                    };
                    figures.insert(
                        c.name.clone(),
                        MemoryFigures {
                            limit,
                            held: usage.memory,
                            maxheld: usage.memory_peak,
                            failcnt: usage.memory_failcnt,
                            pressure: usage.memory_pressure,
                        },
                    );
                }
            }
        }
    }
    let advice = advise::advise(&located, &figures, &loaded.sources);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&advice).map_err(|e| miette::miette!("{e}"))?
        ),
        Output::Text => print!("{}", text(&advice)),
    }
    Ok(if unreachable {
        ExitCode::FAILURE
    } else if advice.suggestions.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The spec's raw documents, with the positions the edits need. `load` succeeded on the same
/// files just before, so this reads them without errors.
fn raw(spec: &SpecArgs) -> Loaded {
    let mut d = Diagnostics::default();
    if spec.files.is_empty() {
        let mut loaded = Loaded::default();
        spec::load_text(
            &mut loaded,
            "<embedded>/specs/local-demo.yaml".into(),
            super::DEMO_SPEC.into(),
            &mut d,
        );
        loaded
    } else {
        spec::load_paths(&spec.files, &mut d)
    }
}

/// The advice for people: one comment block per edit, then the diff (which `git apply` and
/// `patch` read past the comments).
fn text(advice: &advise::Advice) -> String {
    let mut out = String::new();
    if advice.suggestions.is_empty() {
        out.push_str("# fleet advise: every observed memory limit fits what its container used\n");
    }
    for s in &advice.suggestions {
        let verb = match s.direction {
            Direction::Raise => "raise",
            Direction::Lower => "lower",
        };
        out.push_str(&format!(
            "# {}:{}:{}: {} memory of {} from {} to {}\n",
            s.file,
            s.line,
            s.column,
            verb,
            s.holder,
            format_size(s.from),
            format_size(s.to)
        ));
        for why in &s.why {
            out.push_str(&format!("#   {why}\n"));
        }
    }
    for h in &advice.held {
        out.push_str(&format!("# {}: left as it is: {}\n", h.holder, h.why));
    }
    if !advice.unobserved.is_empty() {
        out.push_str(&format!(
            "# not running or not reported, so not advised on: {}\n",
            advice.unobserved.join(", ")
        ));
    }
    if !advice.suggestions.is_empty() {
        out.push_str("# nothing was applied: review the diff, apply it to the spec, commit, then `fleet apply`\n");
    }
    out.push_str(&advice.diff);
    out
}
