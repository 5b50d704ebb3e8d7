//! `fleet exec NAME -- CMD...`: runs a command in a container wherever it is. The host is found
//! by observing the spec's hosts (the container of this fleet with that name, else the host the
//! spec pins it to), then `fleet-node --root R --cgroup-parent P exec NAME -- CMD...` runs there
//! through `transport::exec`: over SSH as its own exec channel, or as a child process for
//! `transport: local`. stdin, stdout and stderr are streamed, and the
//! command's exit status becomes fleet's.
//!
//! Neighbours: `observe` finds the container, `transport::exec` runs the node's command on the
//! host (only transport knows SSH), fleet-node's own `exec` verb enters the container.

use std::process::ExitCode;

use super::{ConnectArgs, ContainerArgs, load, runtime};
use crate::diff::HostObservation;
use crate::model::{Fleet, Host};
use crate::observe;
use crate::transport;

/// Arguments of `fleet exec`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet exec web-01 -- /bin/sh -c 'echo $$; exit 3'   # prints 2 (init is PID 1), exits 3\n  \
fleet exec -f fleet.yaml -t db-01 -- /bin/sh\n\n\
The container's host is found on the spec's hosts (without -f, the embedded demo fleet).\n\
Exit status: the command's, or 1 when the container cannot be found or its host reached."
)]
pub struct Args {
    #[command(flatten)]
    target: ContainerArgs,
    /// Give the command a terminal (for interactive shells).
    #[arg(short = 't', long)]
    tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs `fleet exec`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.target.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    let opts = args.target.connect.options();
    let host = match rt.block_on(find_host(&fleet, &args.target.name, &args.target.connect)) {
        Ok(h) => h,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let ran = rt.block_on(transport::exec::run(
        host,
        &args.target.name,
        args.tty,
        &args.command,
        &opts,
    ));
    let status = match ran {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // The stdin pump may still be blocked reading a terminal: do not wait for it.
    rt.shutdown_background();
    Ok(ExitCode::from(u8::try_from(status).unwrap_or(255)))
}

/// Why `name` is refused when the spec has no container of that name (with the closest name the
/// spec has), or `None` when it has one. Shared by the verbs that take a container name.
pub(super) fn not_in_spec(fleet: &Fleet, name: &str) -> Option<String> {
    if fleet.container(name).is_some() {
        return None;
    }
    let hint =
        crate::spec::suggest::closest(name, fleet.containers.iter().map(|c| c.spec.name.as_str()))
            .map(|s| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
    Some(format!("the spec has no container named {name:?}{hint}"))
}

/// The host running container `name`: where the nodes report it (this fleet's first, then
/// another fleet's), else the host the spec pins it to when that host could not be observed.
pub(super) async fn find_host<'f>(
    fleet: &'f Fleet,
    name: &str,
    connect: &ConnectArgs,
) -> Result<&'f Host, String> {
    let (observed, sessions) = observe::observe(fleet, &connect.options(), connect.parallel).await;
    observe::close_all(sessions).await;
    host_of(fleet, name, &observed)
}

/// [`find_host`] in what `observed` says (for verbs that keep the sessions open).
pub(super) fn host_of<'f>(
    fleet: &'f Fleet,
    name: &str,
    observed: &observe::Observed,
) -> Result<&'f Host, String> {
    let mut ours = None;
    let mut theirs = None;
    let mut unreachable = Vec::new();
    for (host, obs) in &observed.hosts {
        match obs {
            HostObservation::Reachable { containers, .. } => {
                for c in containers.iter().filter(|c| c.name == name) {
                    if c.fleet == fleet.name {
                        ours.get_or_insert(host.as_str());
                    } else {
                        theirs.get_or_insert(host.as_str());
                    }
                }
            }
            HostObservation::Unreachable { error } => {
                unreachable.push(format!("{host} ({error})"));
            }
        }
    }
    if let Some(host) = ours.or(theirs).and_then(|h| fleet.host(h)) {
        return Ok(host);
    }
    let pinned = fleet.container(name).and_then(|c| c.host.as_deref());
    if let Some(host) = pinned.and_then(|h| fleet.host(h))
        && matches!(
            observed.hosts.get(&host.name),
            Some(HostObservation::Unreachable { .. })
        )
    {
        return Err(format!(
            "container {name} is pinned to host {}, which is unreachable: {}",
            host.name,
            unreachable.join(", ")
        ));
    }
    let mut message = if fleet.container(name).is_some() {
        format!(
            "container {name} is in the spec but on none of its hosts; run `fleet apply` to create it"
        )
    } else {
        let known: Vec<&str> = fleet
            .containers
            .iter()
            .take(10)
            .map(|c| c.spec.name.as_str())
            .collect();
        format!(
            "no container named {name} on the spec's hosts or in the spec (the spec names: {}{})",
            known.join(", "),
            if fleet.containers.len() > known.len() {
                ", ..."
            } else {
                ""
            }
        )
    };
    if !unreachable.is_empty() {
        message.push_str(&format!("; unreachable hosts: {}", unreachable.join(", ")));
    }
    Err(message)
}
