//! Apply's side of a move step: take both hosts' sessions, run the move (`migrate::drive`), put
//! back the sessions that are still usable, and say what the move measured.

use std::collections::BTreeMap;

use super::ApplyOptions;
use super::report::{LiveMoveFigures, MoveFigures};
use crate::migrate::drive::{self, MoveStep, Moved};
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
        live: step.change.live,
    };
    let result = drive::run(move_step, &mut source, &mut target).await;
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

/// `web-1 moved b -> a (cold): 12Mi sent for 40Mi of data in a 1Gi image, down 2.1 s`; a live
/// move adds the checkpoint, says for how long the container was frozen and restored, and
/// gives its pre-dump rounds or why it made none.
pub(super) fn note(step: &Step, moved: &Moved) -> String {
    let mut note = format!(
        "{} moved {} -> {} ({}): {} sent for {} of data in a {} image ({} chunks)",
        step.change.name,
        step.change.from.as_deref().unwrap_or("?"),
        step.change.host,
        if moved.live.is_some() { "live" } else { "cold" },
        human(moved.sent),
        human(moved.logical),
        human(moved.image.size),
        moved.chunks,
    );
    if let Some(live) = &moved.live {
        note.push_str(&format!(
            ", {} sent for a {} checkpoint; down {} ms (frozen {} ms for the dump, restored in {} ms); {}",
            human(live.checkpoint_sent),
            human(live.checkpoint),
            moved.downtime.as_millis(),
            live.frozen.as_millis(),
            live.restore.as_millis(),
            crate::migrate::pre_dump::describe(&live.pre_dumps),
        ));
    } else {
        note.push_str(&format!(", down {:.1} s", moved.downtime.as_secs_f64()));
    }
    if let Some(why) = &moved.made_cold {
        note.push_str(&format!("; planned live, made cold: {why}"));
    }
    if let Some(left) = &moved.left_over {
        note.push_str("; ");
        note.push_str(left);
    }
    note
}

/// The same figures as [`note`], as data for the report's JSON.
pub(super) fn figures(step: &Step, moved: &Moved) -> MoveFigures {
    let live = moved.live.as_ref();
    MoveFigures {
        container: step.change.name.clone(),
        from: step.change.from.clone().unwrap_or_default(),
        to: step.change.host.clone(),
        live: live.is_some(),
        downtime_ms: moved.downtime.as_millis() as u64,
        image_bytes: moved.image.size,
        data_bytes: moved.logical,
        sent_bytes: moved.sent,
        live_figures: live.map(|l| LiveMoveFigures {
            frozen_ms: l.frozen.as_millis() as u64,
            restore_ms: l.restore.as_millis() as u64,
            checkpoint_bytes: l.checkpoint,
            checkpoint_sent_bytes: l.checkpoint_sent,
            pre_dumps: l.pre_dumps.rounds.clone(),
            pre_dump_sent_bytes: l.pre_dumps.sent,
            pre_dumps_stopped: l.pre_dumps.stopped.clone(),
        }),
        made_cold: moved.made_cold.clone(),
    }
}

/// `12.3 MiB`: a size for people, to one decimal.
pub(crate) fn human(bytes: u64) -> String {
    let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in units {
        if bytes >= size {
            return format!("{:.1} {unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} B")
}
