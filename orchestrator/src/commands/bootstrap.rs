//! `fleet bootstrap`: install or upgrade fleet-node on every host of the spec, and say which
//! version then runs on each. The binary is checked once before any host is touched (an ELF
//! executable, for which machine, static or not: `node_binary`); each host whose `uname -m` is
//! another machine is refused by name. Over SSH the binary travels on the session's channel into
//! a temporary file beside its destination, its sha256 is checked on the host, and only then is
//! it renamed over the old one (atomic within a directory); a host whose binary already has the
//! same sha256 is left alone. Then the installed binary's `--version` and the node's hello
//! (through the host's transport, as plan and apply reach it) must name the same version. The
//! copying is `transport::install`'s (only transport knows SSH); this file reads the binary and
//! reports. Over SSH, `fleet-node install-unit` then writes, enables and (re)starts
//! fleet-node.service on the host, in the same session (`transport::unit`).

use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::StreamExt;

use serde::Serialize;

use super::SpecArgs;
use super::{ConnectArgs, Output, load, runtime};
use crate::model::Host;
use crate::node_binary::NodeBinary;
use crate::transport::install::{Installed, Report, install};
use crate::transport::{self, ConnectOptions};

/// Arguments of `fleet bootstrap`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet bootstrap -f fleet.yaml\n  fleet bootstrap -f fleet.yaml --node-binary target/release/fleet-node\n  \
fleet bootstrap -f fleet.yaml -o json | jq '.[] | select(.error)'\n\n\
Each host's node.path receives the binary; nothing is replaced until the copy's sha256 matches.\n\
A host whose `uname -m` is not the binary's machine (x86_64) is refused and left as it was.\n\
Each host's line ends with the fleet-node version that answers there; a second line says\n\
whether fleet-node.service (onboot containers, restarts by policy, a clean stop at shutdown)\n\
was installed, enabled and started there (over SSH, where systemd runs).\n\
Exit status: 0 when every host has the binary and its node answers, 1 otherwise."
)]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// The fleet-node binary to install (default: the one beside this fleet binary).
    #[arg(long, value_name = "PATH")]
    node_binary: Option<PathBuf>,
    /// Output format: a line per host, or a JSON array of one object per host.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// One host in `-o json`.
#[derive(Debug, Serialize)]
struct HostJson<'a> {
    host: &'a str,
    /// `installed`, `up_to_date`, or absent when the host failed.
    outcome: Option<&'static str>,
    sha256: &'a str,
    version: Option<&'a str>,
    unit: Option<&'a str>,
    error: Option<&'a str>,
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
    let binary = NodeBinary::read(&source).map_err(|e| match args.node_binary {
        Some(_) => miette::miette!("{e}"),
        None => miette::miette!("{e}; pass --node-binary PATH"),
    })?;
    if binary.dynamic {
        eprintln!(
            "warning: {} is dynamically linked: hosts with an older C library than this machine's \
             cannot run it (a fleet-node built in this repository is static; see docs/packaging.md)",
            source.display()
        );
    }
    let digest = &binary.sha256;
    let opts = args.connect.options();
    let rt = runtime()?;
    let results: Vec<(String, Result<Report, String>)> = rt.block_on(async {
        futures_util::stream::iter(fleet.hosts.iter().map(|h| {
            let (binary, opts) = (&binary, &opts);
            async move { (h.name.clone(), install_and_ask(h, binary, opts).await) }
        }))
        .buffer_unordered(args.connect.parallel.max(1))
        .collect()
        .await
    });
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let failed = results.iter().any(|(_, r)| r.is_err());
    if args.output == Output::Json {
        let rows: Vec<HostJson> = results
            .iter()
            .map(|(host, r)| HostJson {
                host,
                outcome: r.as_ref().ok().map(|rep| match rep.outcome {
                    Installed::UpToDate => "up_to_date",
                    Installed::Written => "installed",
                }),
                sha256: digest,
                version: r.as_ref().ok().map(|rep| rep.version.as_str()),
                unit: r.as_ref().ok().map(|rep| rep.unit.as_str()),
                error: r.as_ref().err().map(String::as_str),
            })
            .collect();
        let text = serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?;
        println!("{text}");
    }
    for (host, r) in results.iter().filter(|_| args.output == Output::Text) {
        match r {
            Ok(Report {
                outcome,
                version,
                unit,
            }) => {
                let what = match outcome {
                    Installed::UpToDate => "up to date",
                    Installed::Written => "installed",
                };
                println!("{host}: {what} (sha256 {digest}); runs {version}");
                println!("{host}: {unit}");
            }
            Err(e) => eprintln!("error: {host}: {e}"),
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Installs, then checks that the node answering through the host's transport is the version
/// the installed binary names; the report carries the hello's protocol too, and what installing
/// fleet-node.service said.
async fn install_and_ask(
    host: &Host,
    binary: &NodeBinary,
    opts: &ConnectOptions,
) -> Result<Report, String> {
    let mut report = install(host, binary, opts).await?;
    let client = transport::connect(host, opts).await.map_err(|e| {
        format!(
            "installed {}, but its node does not answer: {e}",
            host.node.path
        )
    })?;
    let info = client.info().clone();
    client.close().await;
    let hello = format!("fleet-node {}", info.node_version);
    if hello != report.version {
        return Err(format!(
            "{} --version says {:?} but the node that answers says {hello:?}",
            host.node.path, report.version
        ));
    }
    report.version = format!("{hello} (protocol {})", info.protocol_version);
    Ok(report)
}
