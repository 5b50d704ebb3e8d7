//! `fleet clone SRC DST`: the spec's container DST made on SRC's host with a copy of SRC's data
//! (`migrate::clone` plans it and says what is refused; the node copies the layer, reflinked
//! where it can, and starts the clone if the spec says running). SRC is found as `fleet exec`
//! finds it; the request travels over that host's protocol session under its apply lock.

use std::process::ExitCode;

use fleet_protocol::snapshot::{SnapshotOp, SnapshotReply};

use super::snapshot::Reach;
use super::{load, runtime};
use crate::migrate::{clone, snapshot};
use crate::model::Fleet;
use crate::observe;

/// Arguments of `fleet clone`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet clone -f fleet.yaml db db-test --dry-run\n  fleet clone -f fleet.yaml db db-test\n\n\
DST must be a container of the spec that exists nowhere yet: the clone gets its entry's limits,\n\
addresses and state, and the data of SRC as it is now (a running SRC is frozen for the copy).\n\
It is made on SRC's host, so DST must be unpinned or pinned there, and fit there; later plans\n\
see it as in sync. A container the spec does not name would be \"Not in spec\" to every plan\n\
(and destroyed by `fleet apply --prune`), so a DST without an entry is refused, and so is a\n\
clone while a host of the fleet does not answer (it could hold a DST). --dry-run makes the same\n\
checks and says what would be made, sending nothing. Exit status: 0, or 1 when refused or\n\
failed (nothing changed)."
)]
pub struct Args {
    /// The container to copy.
    src: String,
    /// The clone: a container of the spec that does not exist yet.
    dst: String,
    /// Check and show what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    reach: Reach,
}

/// Runs `fleet clone`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(args.reach.spec()) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = runtime()?;
    Ok(super::snapshot::said(rt.block_on(make(&fleet, &args))))
}

async fn make(fleet: &Fleet, args: &Args) -> Result<String, String> {
    let connect = args.reach.connect();
    let (observed, mut sessions) =
        observe::observe(fleet, &connect.options(), connect.parallel).await;
    let planned = super::exec::host_of(fleet, &args.src, &observed).and_then(|host| {
        clone::plan(fleet, &observed, &args.src, &host.name, &args.dst).map_err(|e| e.to_string())
    });
    let session = planned.as_ref().ok().and_then(|p| sessions.remove(&p.host));
    observe::close_all(sessions).await;
    let planned = planned.map_err(|e| format!("{e}; nothing was changed"))?;
    if args.dry_run {
        if let Some(session) = session {
            session.close().await;
        }
        return Ok(format!(
            "{}: would be cloned from {} on {}, then {} (as the spec says); nothing was changed \
             (--dry-run)",
            args.dst,
            args.src,
            planned.host,
            if planned.spec.state == fleet_protocol::DesiredState::Running {
                "started"
            } else {
                "left stopped"
            }
        ));
    }
    let Some(mut session) = session else {
        return Err(format!(
            "{} is unreachable; nothing was changed",
            planned.host
        ));
    };
    let op = SnapshotOp::Clone {
        src: args.src.clone(),
        spec: Box::new(planned.spec),
    };
    let host = planned.host;
    let answer = snapshot::ask(&mut session, &host, &args.reach.asker(fleet), op).await;
    session.close().await;
    match answer.map_err(|e| e.to_string())? {
        SnapshotReply::Cloned { init_pid } => Ok(format!(
            "{}: cloned from {} on {host}{}",
            args.dst,
            args.src,
            match init_pid {
                Some(pid) => format!(", running (init pid {pid})"),
                None => ", stopped (as the spec says)".into(),
            }
        )),
        other => Err(format!("{host}: unexpected answer {other:?}")),
    }
}
