//! `fleet snapshot NAME [TAG]` and `fleet snapshot list|restore|delete`: copies of a container's
//! data kept on its host, as `fleet-node snapshot` keeps them there. The name must be the
//! spec's; its host is found as `fleet exec` finds it, and the operation travels as a
//! `Request::Snapshot` over that host's protocol session (`migrate::snapshot`), under the node's
//! apply lock for all but a list. The node refuses what cannot be done (a tag that exists, a
//! tag it does not have) before it changes anything.

use std::process::ExitCode;

use fleet_protocol::ContainerState;
use fleet_protocol::snapshot::{Snapshot, SnapshotOp, SnapshotReply};
use fleet_protocol::units::utc_text;

use super::{ConnectArgs, Output, SpecArgs, load, runtime};
use crate::apply::journal::local_user;
use crate::apply::moves::human;
use crate::diff::HostObservation;
use crate::migrate::snapshot::{Asker, ask};
use crate::model::Fleet;
use crate::observe;
use crate::plan::STOP_TIMEOUT_SECS;

/// Where the container is: the spec, how to reach its hosts, how long to wait for a lock.
#[derive(Debug, Clone, clap::Args)]
pub struct Reach {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Seconds to wait for the host's apply lock when an apply holds it (0: fail at once,
    /// naming the holder).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    lock_timeout: u32,
}

impl Reach {
    /// The spec files.
    pub fn spec(&self) -> &SpecArgs {
        &self.spec
    }

    /// How to reach the hosts.
    pub fn connect(&self) -> &ConnectArgs {
        &self.connect
    }

    /// Who asks, for the node's apply lock.
    pub fn asker(&self, fleet: &Fleet) -> Asker {
        Asker {
            fleet: fleet.name.clone(),
            user: local_user(),
            lock_timeout_secs: self.lock_timeout,
        }
    }
}

/// Arguments of `fleet snapshot`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  fleet snapshot -f fleet.yaml db before-upgrade\n  \
fleet snapshot list -f fleet.yaml db\n  fleet snapshot list -f fleet.yaml -o json\n  \
fleet snapshot restore -f fleet.yaml db before-upgrade --yes\n  \
fleet snapshot delete -f fleet.yaml db before-upgrade\n\n\
A snapshot is a copy of the container's data (its disk image, or its writable layer without\n\
one) and config, kept on its host under <root>/snapshots/NAME/TAG (reflinked where the host's\n\
filesystem can); a running container is frozen for the copy. A tag that exists is refused.\n\
Restore puts the data back: a running container is stopped and started again for it (asked\n\
first, or --yes), and its limits stay the spec's. Snapshots stay on their host: a container\n\
moved to another host leaves them behind. Exit status: 0, or 1 when refused or failed\n\
(nothing changed)."
)]
pub struct Args {
    /// What to do besides taking a snapshot.
    #[command(subcommand)]
    action: Option<Action>,
    /// The container to take a snapshot of.
    #[arg(required = true)]
    name: Option<String>,
    /// The new snapshot's tag (default `snap-<unix seconds>`; 1-64 letters, digits, '-', '_',
    /// '.').
    tag: Option<String>,
    #[command(flatten)]
    reach: Reach,
}

/// `fleet snapshot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Take a snapshot (the same as `snapshot NAME [TAG]`, for a container named like a
    /// subcommand).
    Create {
        /// Container name.
        name: String,
        /// The new snapshot's tag.
        tag: Option<String>,
        /// Where it is.
        #[command(flatten)]
        reach: Reach,
    },
    /// The snapshots of a container, or of every container of the fleet, oldest first.
    List {
        /// Container name (default: every container of the fleet on its hosts).
        name: Option<String>,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Where it is.
        #[command(flatten)]
        reach: Reach,
    },
    /// Put a snapshot's data back (a running container is stopped and started again).
    Restore {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
        /// Restart a running container without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Where it is.
        #[command(flatten)]
        reach: Reach,
    },
    /// Delete a snapshot.
    Delete {
        /// Container name.
        name: String,
        /// The snapshot's tag.
        tag: String,
        /// Where it is.
        #[command(flatten)]
        reach: Reach,
    },
}

/// Runs `fleet snapshot`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let action = args.action.unwrap_or(Action::Create {
        name: args.name.unwrap_or_default(),
        tag: args.tag,
        reach: args.reach,
    });
    let (reach, name, op, yes) = match action {
        Action::List {
            name,
            output,
            reach,
        } => return list(&reach, name.as_deref(), output),
        Action::Create { name, tag, reach } => {
            let op = SnapshotOp::Take {
                name: name.clone(),
                tag,
            };
            (reach, name, op, true)
        }
        Action::Restore {
            name,
            tag,
            yes,
            reach,
        } => {
            let op = SnapshotOp::Restore {
                name: name.clone(),
                tag,
                timeout_secs: STOP_TIMEOUT_SECS,
            };
            (reach, name, op, yes)
        }
        Action::Delete { name, tag, reach } => {
            let op = SnapshotOp::Delete {
                name: name.clone(),
                tag,
            };
            (reach, name, op, true)
        }
    };
    let Some(fleet) = load(&reach.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(message) = super::exec::not_in_spec(&fleet, &name) {
        eprintln!("error: {message}; nothing was changed");
        return Ok(ExitCode::FAILURE);
    }
    let rt = runtime()?;
    Ok(said(rt.block_on(one(&fleet, &reach, &name, op, yes))))
}

/// Prints what was done (exit 0) or the error (exit 1).
pub(super) fn said(done: Result<String, String>) -> ExitCode {
    match done {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `op` about `name` to its host; `yes`: a restore may restart it without asking.
async fn one(
    fleet: &Fleet,
    reach: &Reach,
    name: &str,
    op: SnapshotOp,
    yes: bool,
) -> Result<String, String> {
    let connect = &reach.connect;
    let (observed, mut sessions) =
        observe::observe(fleet, &connect.options(), connect.parallel).await;
    let found = super::exec::host_of(fleet, name, &observed).map(|h| h.name.clone());
    let running = found.as_ref().is_ok_and(|host| {
        matches!(observed.hosts.get(host), Some(HostObservation::Reachable { containers, .. })
            if containers.iter().any(|c| c.name == name && c.state == ContainerState::Running))
    });
    let session = found
        .as_ref()
        .ok()
        .and_then(|host| Some((host.clone(), sessions.remove(host)?)));
    observe::close_all(sessions).await;
    let (host, mut session) = match (found, session) {
        (Err(message), _) => return Err(format!("{message}; nothing was changed")),
        (Ok(host), None) => return Err(format!("{host} is unreachable; nothing was changed")),
        (Ok(_), Some(s)) => s,
    };
    if running
        && matches!(op, SnapshotOp::Restore { .. })
        && !super::confirm_text(
            &format!("{name} runs on {host}: restoring restarts it"),
            yes,
        )
    {
        session.close().await;
        return Err("not confirmed; nothing was changed".into());
    }
    let answer = ask(&mut session, &host, &reach.asker(fleet), op).await;
    session.close().await;
    Ok(match answer.map_err(|e| e.to_string())? {
        SnapshotReply::Taken { snapshot: s } => format!(
            "{name}: snapshot {} taken on {host} ({}{})",
            s.tag,
            human(s.bytes),
            if s.was_running {
                ", frozen for the copy"
            } else {
                ""
            }
        ),
        SnapshotReply::Restored {
            snapshot: s,
            restarted,
        } => format!(
            "{name}: snapshot {} (taken {}) restored on {host}{}",
            s.tag,
            utc_text(s.created),
            if restarted { ", and started again" } else { "" }
        ),
        SnapshotReply::Deleted => format!("{name}: snapshot deleted on {host}"),
        other => return Err(format!("{host}: unexpected answer {other:?}")),
    })
}

/// One row of `fleet snapshot list`.
#[derive(Debug, serde::Serialize)]
struct Row {
    container: String,
    host: String,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// Lists the snapshots of `name`, or of every container of the fleet where it runs.
fn list(reach: &Reach, name: Option<&str>, output: Output) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&reach.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(message) = name.and_then(|n| super::exec::not_in_spec(&fleet, n)) {
        eprintln!("error: {message}");
        return Ok(ExitCode::FAILURE);
    }
    let rt = runtime()?;
    let listed = rt.block_on(list_rows(&fleet, reach, name));
    let (rows, failed) = match listed {
        Ok(found) => found,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| miette::miette!("{e}"))?
        ),
        Output::Text => {
            println!(
                "{:<20} {:<12} {:<24} {:<20} {:>10}  LAYER",
                "CONTAINER", "HOST", "TAG", "CREATED", "SIZE"
            );
            for r in &rows {
                println!(
                    "{:<20} {:<12} {:<24} {:<20} {:>10}  {}",
                    r.container,
                    r.host,
                    r.snapshot.tag,
                    utc_text(r.snapshot.created),
                    human(r.snapshot.bytes),
                    match r.snapshot.layer {
                        fleet_protocol::snapshot::LayerKind::Disk => "disk image",
                        fleet_protocol::snapshot::LayerKind::Upper => "upper layer",
                    }
                );
            }
        }
    }
    for why in &failed {
        eprintln!("error: {why}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The rows, and what could not be listed (unreachable hosts, a node's refusal).
async fn list_rows(
    fleet: &Fleet,
    reach: &Reach,
    name: Option<&str>,
) -> Result<(Vec<Row>, Vec<String>), String> {
    let connect = &reach.connect;
    let (observed, mut sessions) =
        observe::observe(fleet, &connect.options(), connect.parallel).await;
    let wanted: Vec<(String, String)> = match name {
        Some(n) => match super::exec::host_of(fleet, n, &observed) {
            Ok(host) => vec![(host.name.clone(), n.to_owned())],
            Err(message) => {
                observe::close_all(sessions).await;
                return Err(message);
            }
        },
        None => {
            let mut all: Vec<(String, String)> = observed
                .current(&fleet.name)
                .into_iter()
                .map(|(name, host)| (host, name))
                .collect();
            all.sort();
            all
        }
    };
    let mut failed: Vec<String> = observed
        .unreachable()
        .map(|(host, why)| format!("host {host} is unreachable: {why}"))
        .collect();
    let mut rows = Vec::new();
    let asker = reach.asker(fleet);
    for (host, container) in wanted {
        let Some(session) = sessions.get_mut(&host) else {
            continue;
        };
        let op = SnapshotOp::List {
            name: container.clone(),
        };
        match ask(session, &host, &asker, op).await {
            Ok(SnapshotReply::List { snapshots }) => {
                rows.extend(snapshots.into_iter().map(|s| Row {
                    container: container.clone(),
                    host: host.clone(),
                    snapshot: s,
                }))
            }
            Ok(other) => failed.push(format!("{host}: unexpected answer {other:?}")),
            Err(e) => failed.push(e.to_string()),
        }
    }
    observe::close_all(sessions).await;
    Ok((rows, failed))
}
