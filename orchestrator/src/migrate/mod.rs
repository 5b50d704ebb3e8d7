//! Moves between hosts: which containers whose host changed can be moved and how (the plan's
//! `> NAME (move h1 -> h2, live)` or `(move h1 -> h2, cold; WHY)`), what a finished move left
//! behind, and the driver that carries a move out over the two hosts' sessions ([`drive`]).
//!
//! A move's state lives on the nodes, never here: the source marks the container as moving
//! (`ContainerStatus::moving_to`) when it stops it for the move, and the target keeps what it
//! received apart from its containers until the checksum is verified and the container is made.
//! So a move cut off anywhere (either session lost, the orchestrator killed, the target's disk
//! full) is read back by the next observe: when the target holds the container, the move is
//! finished and the source's copy is destroyed ([`left_over`]); otherwise the source's copy is
//! the container, and the plan moves it again or leaves it where the spec now wants it.
//!
//! Neighbours: `diff` calls [`plan_move`] and [`left_over`]; `apply` runs [`drive::run`] for
//! each move step; [`targeted`] plans `fleet drain` and `fleet move`, [`clone`] plans `fleet clone`,
//! [`snapshot`] sends it and `fleet snapshot`'s operations to the node; the node side is
//! `node-runtime/src/transfer/`.

pub mod clone;
pub mod drive;
pub mod error;
pub mod pre_dump;
pub mod snapshot;
pub mod targeted;
mod wire;

use fleet_protocol::{
    ContainerSpec, ContainerState, ContainerStatus, DesiredState, Features, NodeInfo,
};

use crate::diff::change::Change;
use crate::diff::fields::{Effect, compare};

/// The move of `desired` from `from` (where `old` is found) to `to`, or why it cannot be made:
/// live when the container runs and stays running, both nodes can
/// (`fleet_protocol::live::why_not_live`) and no changed field takes a restart, else cold with the reason in the note. `nodes` are
/// the two hellos (source, target).
pub fn plan_move(
    desired: &ContainerSpec,
    old: &ContainerStatus,
    (from, to): (&str, &str),
    nodes: (Option<&NodeInfo>, Option<&NodeInfo>),
    target: &Features,
) -> Result<Change, String> {
    let name = &desired.name;
    if old.spec.resources.disk_space.is_none() {
        return Err(format!(
            "moves from {from} to {to}, but it has no disk image to move (its files are in \
             {from}'s store): give it resources.disk_space first (a restart), or pass \
             --allow-recreate to destroy it on {from} and create it on {to} (its data is lost)"
        ));
    }
    if old.state == ContainerState::Broken {
        return Err(format!(
            "moves from {from} to {to}, but {name} is half-made on {from}: run `fleet apply` \
             with it pinned to {from} first to repair it"
        ));
    }
    let fields = compare(desired, old, target);
    if let Some(f) = fields.iter().find(|f| f.effect == Effect::Recreate) {
        return Err(format!(
            "moves from {from} to {to} and changes {} (which recreates it): change one of them \
             per apply",
            f.field
        ));
    }
    let cold = why_cold(desired, old, nodes).or_else(|| restart_fields_need_cold(&fields));
    Ok(Change {
        host: to.to_owned(),
        name: name.clone(),
        fields,
        live: cold.is_none(),
        note: cold,
        from: Some(from.to_owned()),
        spec: Some(desired.clone()),
        offline: false,
    })
}

/// Why the move of a container found as `old` is cold; `None` when it can be live.
fn why_cold(
    desired: &ContainerSpec,
    old: &ContainerStatus,
    nodes: (Option<&NodeInfo>, Option<&NodeInfo>),
) -> Option<String> {
    // A container a cut-off live move left dumped is stopped, but its processes are in the
    // dump: it moves live again (the source restores it first).
    if old.state != ContainerState::Running && !old.moving_live {
        return Some("it is not running: nothing to keep but its disk".to_owned());
    }
    if desired.state != DesiredState::Running {
        return Some("the spec stops it".to_owned());
    }
    match nodes {
        (Some(source), Some(target)) => fleet_protocol::live::why_not_live(desired, source, target),
        _ => Some("a node's hello is unknown (an older fleet-node?)".to_owned()),
    }
}

/// Why a move that also changes fields needing a restart cannot be live: a restored tree keeps
/// the processes it was dumped with, so the target would record the new spec while they run
/// on under the old one (a `privileged` flip would even run a tree in a user namespace whose
/// uid range the target never gave it, or as host root while recorded unprivileged). Its
/// processes restart anyway, so a cold move loses nothing.
fn restart_fields_need_cold(fields: &[crate::diff::fields::FieldDiff]) -> Option<String> {
    let restart: Vec<&str> = fields
        .iter()
        .filter(|f| f.effect >= Effect::Restart)
        .map(|f| f.field.as_str())
        .collect();
    (!restart.is_empty()).then(|| {
        format!(
            "it also changes {}, which takes a restart: a restored tree would run on as it was \
             dumped",
            restart.join(", ")
        )
    })
}

/// The copies among `copies` (host, status) that a finished move left behind: a copy of
/// `fleet`'s whose node marks it as moving to a host that holds a whole copy now. Returns
/// (left-over host, host it moved to).
pub fn left_over<'a>(
    fleet: &str,
    copies: &[(&'a str, &'a ContainerStatus)],
) -> Vec<(&'a str, &'a str)> {
    copies
        .iter()
        .filter(|(_, c)| c.fleet == fleet)
        .filter_map(|(host, c)| {
            let to = c.moving_to.as_deref()?;
            copies
                .iter()
                .find(|(h, n)| {
                    *h == to && *h != *host && n.fleet == fleet && n.state != ContainerState::Broken
                })
                .map(|(h, _)| (*host, *h))
        })
        .collect()
}

#[cfg(test)]
mod clone_tests;
#[cfg(test)]
mod targeted_tests;
#[cfg(test)]
mod tests;
