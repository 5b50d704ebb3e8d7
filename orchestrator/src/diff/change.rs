//! One container's decision ([`Change`]) and a container left alone on purpose ([`Refusal`]):
//! what [`super::diff`] sorts into its buckets, and what `migrate` builds for a move. Kept apart
//! from the diff itself so that `migrate`, which the diff calls, can build them without
//! importing the diff.

use fleet_protocol::ContainerSpec;
use serde::Serialize;

use super::fields::FieldDiff;

/// One container's decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Change {
    /// Host the action runs on.
    pub host: String,
    /// Container name.
    pub name: String,
    /// Differing fields, for updates (and for start/stop/recreate when the spec changed too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    /// Why, when it is not obvious (repair of a broken container, part of a move).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a move: the host it leaves (`host` is where it goes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// For a move: live (checkpointed on `from`, restored on `host`, `migrate::plan_move`);
    /// otherwise cold, with the reason in `note`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// The container is stopped and stays so: its changes are applied offline, so the update
    /// may restart it (there is no running init to lose).
    #[serde(skip)]
    pub offline: bool,
    /// The desired spec; absent for destroys, and once `plan` has moved it into the step's
    /// actions.
    #[serde(skip)]
    pub spec: Option<ContainerSpec>,
}

/// A container the diff will not touch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Container name.
    pub name: String,
    /// Host concerned.
    pub host: String,
    /// What is wrong and what would make it possible.
    pub reason: String,
}
