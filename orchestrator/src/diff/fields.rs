//! Field-by-field comparison of one container's desired spec with what a node reports, through
//! the table of field effects both sides share ([`fleet_protocol::effects`]).
//!
//! Used by [`super::diff`]; the plan renders the [`FieldDiff`]s it produces. Resource limits are
//! compared against the live values the node read from the kernel, so a limit changed by hand on a
//! host shows as drift; a field the node could not read (reported as unset while its stored spec
//! has a value) falls back to the stored spec, so an unreadable file does not look like drift on
//! every run. Host-dependent effects (a disk grow) are decided from the node's features in its
//! hello.

use fleet_protocol::effects::{self, View};
use fleet_protocol::{ContainerSpec, ContainerStatus, Features};
use serde::Serialize;

pub use fleet_protocol::Effect;

/// One field that differs: `memory: 256Mi -> 512Mi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// Field name as written in the spec (`memory`, `cpu.limit`, `command`).
    pub field: String,
    /// Value found on the host.
    pub old: String,
    /// Value the spec wants.
    pub new: String,
    /// What applying it takes.
    pub effect: Effect,
}

/// Every field of `desired` that differs from `observed` on a host with `host`'s features, in
/// the table's order. The run state is not a field here: the caller turns it into start and stop.
pub fn compare(
    desired: &ContainerSpec,
    observed: &ContainerStatus,
    host: &Features,
) -> Vec<FieldDiff> {
    let seen = effects::observed_resources(&observed.live, &observed.spec.resources);
    let old = View {
        spec: &observed.spec,
        resources: &seen,
    };
    let new = View::of(desired);
    effects::changes(&old, &new, host)
        .map(|(rule, verdict)| FieldDiff {
            field: rule.name.to_owned(),
            old: (rule.show)(&old),
            new: (rule.show)(&new),
            effect: verdict.effect,
        })
        .collect()
}
