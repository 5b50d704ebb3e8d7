//! Apply's side of a move step: take both hosts' sessions, run the move (`migrate::cold`), put
//! back the sessions that are still usable, and say what the move measured.

use std::collections::BTreeMap;

use super::ApplyOptions;
use crate::migrate::cold::{self, MoveStep, Moved};
use crate::migrate::error::MoveError;
use crate::plan::Step;
use crate::transport::NodeSession;

/// Runs the move `step`; returns its result and the hosts whose session it lost (with why).
pub(super) async fn run<S: NodeSession>(
    fleet: &str,
    step: &Step,
    sessions: &mut BTreeMap<String, S>,
    opts: &ApplyOptions,
) -> (Result<Moved, MoveError>, Vec<(String, String)>) {
    let to = step.change.host.as_str();
    let from = step.change.from.as_deref().unwrap_or_default();
    let Some(spec) = step.actions.iter().find_map(|a| match a {
        fleet_protocol::Action::Create { spec } => Some(spec),
        _ => None,
    }) else {
        return (
            Err(MoveError::Node {
                host: to.to_owned(),
                what: "was not sent",
                message: "the plan's move carries no spec".into(),
                stays: format!("{} stays on {from}", step.change.name),
            }),
            Vec::new(),
        );
    };
    let (Some(mut source), Some(mut target)) = (sessions.remove(from), sessions.remove(to)) else {
        let missing = if sessions.contains_key(from) {
            to
        } else {
            from
        };
        return (
            Err(MoveError::NoSession {
                host: missing.to_owned(),
            }),
            Vec::new(),
        );
    };
    let move_step = MoveStep {
        fleet,
        from,
        to,
        spec,
        lock_timeout_secs: opts.lock_timeout_secs,
        user: &opts.user,
    };
    let result = cold::run(move_step, &mut source, &mut target).await;
    let mut lost = Vec::new();
    for (host, session) in [(from, source), (to, target)] {
        match &result {
            Err(e) if e.loses(host) => lost.push((host.to_owned(), e.to_string())),
            _ => {
                sessions.insert(host.to_owned(), session);
            }
        }
    }
    (result, lost)
}

/// `web-1 moved b -> a (cold): 12Mi sent for 40Mi of data in a 1Gi image, down 2.1 s`.
pub(super) fn note(step: &Step, moved: &Moved) -> String {
    let mut note = format!(
        "{} moved {} -> {} (cold): {} sent for {} of data in a {} image ({} chunks), down {:.1} s",
        step.change.name,
        step.change.from.as_deref().unwrap_or("?"),
        step.change.host,
        human(moved.sent),
        human(moved.logical),
        human(moved.image.size),
        moved.chunks,
        moved.downtime.as_secs_f64(),
    );
    if let Some(left) = &moved.left_over {
        note.push_str("; ");
        note.push_str(left);
    }
    note
}

/// `12.3 MiB`: a size for people, to one decimal.
fn human(bytes: u64) -> String {
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in units {
        if bytes >= size {
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}
