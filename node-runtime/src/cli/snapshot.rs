//! `fleet-node snapshot NAME [TAG]`, `snapshot list|restore|delete`, and `fleet-node clone SRC
//! DST`: copies of a container's data (`crate::checkpoint::{snapshot, clone}`).

use std::io::Write;

use clap::{Args, Subcommand};

use super::Format;
use crate::checkpoint::clone::CloneOptions;
use crate::checkpoint::snapshot::{self, Snapshot};
use crate::container::Runtime;
use crate::error::Result;

/// Flags of `fleet-node snapshot`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SnapshotArgs {
    /// What to do besides taking a snapshot.
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,
    /// Container name (take a snapshot of it).
    #[arg(required = true)]
    pub name: Option<String>,
    /// Tag of the new snapshot (default `snap-<unix seconds>`).
    pub tag: Option<String>,
}

/// `snapshot` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum SnapshotAction {
    /// Take a snapshot (the same as `snapshot NAME [TAG]`; use it for a container named like a
    /// subcommand).
    Create {
        /// Container name.
        name: String,
        /// Tag of the new snapshot.
        tag: Option<String>,
    },
    /// The container's snapshots, oldest first.
    List {
        /// Container name.
        name: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Put a snapshot's data back into the (stopped) container.
    Restore {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
    },
    /// Delete a snapshot.
    Delete {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
    },
}

/// Flags of `fleet-node clone`.
#[derive(Debug, Clone, Args)]
pub struct CloneArgs {
    /// The container to copy.
    pub src: String,
    /// The new container's name.
    pub dst: String,
    /// The clone's address, CIDR (repeatable); required when the source has addresses.
    #[arg(long = "address", value_name = "CIDR")]
    pub addresses: Vec<String>,
    /// Start the clone once it is made.
    #[arg(long)]
    pub start: bool,
}

/// Runs `snapshot`.
pub fn run(runtime: &Runtime, args: &SnapshotArgs, out: &mut impl Write) -> Result<()> {
    let action = args
        .action
        .clone()
        .unwrap_or_else(|| SnapshotAction::Create {
            name: args.name.clone().unwrap_or_default(),
            tag: args.tag.clone(),
        });
    match action {
        SnapshotAction::Create { name, tag } => {
            let s = snapshot::create(runtime, &name, tag.as_deref())?;
            let _ = writeln!(
                out,
                "{name}: snapshot {} taken ({} bytes{})",
                s.tag,
                s.bytes,
                if s.was_running {
                    ", frozen for the copy"
                } else {
                    ""
                }
            );
        }
        SnapshotAction::List { name, output } => {
            let all = snapshot::list(runtime, &name)?;
            match output {
                Format::Json => {
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&all).expect("snapshots serialize")
                    );
                }
                Format::Text => print_table(out, &all),
            }
        }
        SnapshotAction::Restore { name, tag } => {
            snapshot::restore(runtime, &name, &tag)?;
            let _ = writeln!(out, "{name}: snapshot {tag} restored (start it to use it)");
        }
        SnapshotAction::Delete { name, tag } => {
            snapshot::delete(runtime, &name, &tag)?;
            let _ = writeln!(out, "{name}: snapshot {tag} deleted");
        }
    }
    Ok(())
}

fn print_table(out: &mut impl Write, all: &[Snapshot]) {
    let _ = writeln!(
        out,
        "{:<24} {:>12} {:>14}  LAYER",
        "TAG", "CREATED", "BYTES"
    );
    for s in all {
        let _ = writeln!(
            out,
            "{:<24} {:>12} {:>14}  {:?}",
            s.tag, s.created, s.bytes, s.layer
        );
    }
}

/// Runs `clone`.
pub fn clone(runtime: &Runtime, args: &CloneArgs, out: &mut impl Write) -> Result<()> {
    let opts = CloneOptions {
        addresses: args.addresses.clone(),
        start: args.start,
    };
    crate::checkpoint::clone::clone(runtime, &args.src, &args.dst, &opts)?;
    let _ = writeln!(
        out,
        "{}: cloned from {}{}",
        args.dst,
        args.src,
        if args.start { " and started" } else { "" }
    );
    Ok(())
}
