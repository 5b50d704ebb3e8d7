//! `fleet bootstrap`: install or upgrade fleet-node on every host of the spec. Over SSH the binary
//! travels on the session's channel into a temporary file beside its destination, its sha256 is
//! checked on the host, and only then is it renamed over the old one (atomic within a directory).
//! A host whose binary already has the same sha256 is left alone. The copying is
//! `transport::install`'s (only transport knows SSH); this file reads the binary and reports.

use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::StreamExt;

use super::SpecArgs;
use super::{ConnectArgs, load, runtime};
use crate::transport::install::{Installed, install, sha256_hex};

/// Arguments of `fleet bootstrap`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet bootstrap -f fleet.yaml\n  fleet bootstrap -f fleet.yaml --node-binary target/release/fleet-node\n\n\
Each host's node.path receives the binary; nothing is replaced until the copy's sha256 matches.\n\
Exit status: 0 when every host has the binary, 1 otherwise."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The fleet-node binary to install (default: the one beside this fleet binary).
    #[arg(long, value_name = "PATH")]
    node_binary: Option<PathBuf>,
}

/// Runs `fleet bootstrap`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let source = match &args.node_binary {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("fleet-node")))
            .ok_or_else(|| miette::miette!("cannot locate fleet-node; pass --node-binary"))?,
    };
    let binary = std::fs::read(&source).map_err(|e| {
        miette::miette!(
            "cannot read the fleet-node binary {}: {e}; pass --node-binary PATH",
            source.display()
        )
    })?;
    let digest = sha256_hex(&binary);
    let opts = args.connect.options();
    let rt = runtime()?;
    let results: Vec<(String, Result<Installed, String>)> = rt.block_on(async {
        futures_util::stream::iter(fleet.hosts.iter().map(|h| {
            let (binary, digest, opts) = (&binary, &digest, &opts);
            async move { (h.name.clone(), install(h, binary, digest, opts).await) }
        }))
        .buffer_unordered(args.connect.parallel.max(1))
        .collect()
        .await
    });
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failed = false;
    for (host, r) in &results {
        match r {
            Ok(Installed::UpToDate) => println!("{host}: up to date (sha256 {digest})"),
            Ok(Installed::Written) => println!("{host}: installed (sha256 {digest})"),
            Err(e) => {
                failed = true;
                eprintln!("error: {host}: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
