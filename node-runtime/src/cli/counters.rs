//! `fleet-node counters [NAME] [-o json]`: beancounters of one or every container, as a table
//! laid out like /proc/user_beancounters or as JSON.

use std::io::Write;

use clap::Args;

use super::Format;
use crate::container::Runtime;
use crate::counters::render_text;
use crate::error::Result;

/// Flags of `fleet-node counters`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  fleet-node counters            # every container, laid out like /proc/user_beancounters\n  \
                        fleet-node counters web1 -o json"
)]
pub struct CountersArgs {
    /// Container name (default: every container).
    pub name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Format,
}

/// Runs `counters`.
pub fn run(runtime: &Runtime, args: &CountersArgs, out: &mut impl Write) -> Result<()> {
    let all = runtime.counters(args.name.as_deref())?;
    let _ = match args.output {
        Format::Text => write!(out, "{}", render_text(&all)),
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&all).expect("counters serialize")
        ),
    };
    Ok(())
}
