//! `fleet clone SRC DST` planned (pure): the clone is the spec's container DST, made on the host
//! where SRC runs with a copy of SRC's data. The spec is the truth, so DST must be in it: its
//! entry gives the clone its limits, addresses and host, and the plans after the clone see it
//! as in sync. A container the spec does not name would be listed under "Not in spec" by every
//! plan and destroyed by `fleet apply --prune`, so a clone without an entry is refused.
//!
//! The node copies the layer locally (reflinked where its filesystem can), so DST goes where
//! SRC is: a pin elsewhere is refused, and the scheduler checks that DST fits there. A host
//! that does not answer might hold a container named DST, so the clone waits until all answer.

use fleet_protocol::ContainerSpec;

use crate::diff::{HostObservation, Observed};
use crate::model::Fleet;
use crate::schedule::{self, Options};

/// What to send: make `spec` on `host` from the source's data.
#[derive(Debug, Clone, PartialEq)]
pub struct ClonePlan {
    /// The host SRC runs on, where the clone is made.
    pub host: String,
    /// The spec's entry for DST.
    pub spec: ContainerSpec,
}

/// Why a clone is refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloneError {
    /// DST has no entry in the spec.
    #[error(
        "the spec has no container named {dst:?}{hint}; a clone is the spec's container: add an \
         entry for {dst} (a copy of {src}'s with its own name and address will do), then clone \
         (a container the spec does not name is listed as \"Not in spec\" by every plan and \
         destroyed by `fleet apply --prune`)"
    )]
    NotInSpec {
        /// The source.
        src: String,
        /// The clone's name.
        dst: String,
        /// ` (did you mean "web-02"?)` or nothing.
        hint: String,
    },
    /// A container of that name exists already.
    #[error(
        "container {dst:?} already exists on {host} (fleet {fleet}); choose another name, or \
         destroy that one first"
    )]
    Taken {
        /// The clone's name.
        dst: String,
        /// Where it is.
        host: String,
        /// Whose it is.
        fleet: String,
    },
    /// A host that could hold DST did not answer, so whether the name is taken is unknown.
    #[error(
        "cannot tell whether {dst:?} exists already: {hosts} did not answer ({error}); a clone \
         beside a container of the same name elsewhere would leave two copies for the next plan \
         to choose between, so clone when every host of the fleet answers"
    )]
    Unknown {
        /// The clone's name.
        dst: String,
        /// The hosts that did not answer, comma-separated.
        hosts: String,
        /// The first one's error.
        error: String,
    },
    /// The spec pins DST to another host than SRC's.
    #[error(
        "the spec pins {dst} to {pin}, but {src} runs on {host} and a clone is made beside its \
         source: pin {dst} to {host} (or leave it unpinned) to clone it, then change its host to \
         move it"
    )]
    PinnedElsewhere {
        /// The source.
        src: String,
        /// The clone's name.
        dst: String,
        /// Where the spec pins DST.
        pin: String,
        /// Where SRC runs.
        host: String,
    },
    /// DST does not fit on SRC's host.
    #[error("{dst} cannot be made beside {src} on {host}: {reason}")]
    NoRoom {
        /// The source.
        src: String,
        /// The clone's name.
        dst: String,
        /// Where SRC runs.
        host: String,
        /// The scheduler's reason.
        reason: String,
    },
}

/// Plans the clone of `src` (found on `host`) into the spec's container `dst`.
pub fn plan(
    fleet: &Fleet,
    observed: &Observed,
    src: &str,
    host: &str,
    dst: &str,
) -> Result<ClonePlan, CloneError> {
    let Some(desired) = fleet.container(dst) else {
        let names = fleet.containers.iter().map(|c| c.spec.name.as_str());
        let hint = crate::spec::suggest::did_you_mean(dst, names);
        return Err(CloneError::NotInSpec {
            src: src.to_owned(),
            dst: dst.to_owned(),
            hint,
        });
    };
    for (on, obs) in &observed.hosts {
        if let HostObservation::Reachable { containers, .. } = obs
            && let Some(c) = containers.iter().find(|c| c.name == dst)
        {
            return Err(CloneError::Taken {
                dst: dst.to_owned(),
                host: on.clone(),
                fleet: c.fleet.clone(),
            });
        }
    }
    let silent: Vec<(&str, &str)> = observed.unreachable().collect();
    if let Some((_, error)) = silent.first() {
        return Err(CloneError::Unknown {
            dst: dst.to_owned(),
            hosts: silent
                .iter()
                .map(|(h, _)| *h)
                .collect::<Vec<_>>()
                .join(", "),
            error: (*error).to_owned(),
        });
    }
    if let Some(pin) = desired.host.as_deref().filter(|p| *p != host) {
        return Err(CloneError::PinnedElsewhere {
            src: src.to_owned(),
            dst: dst.to_owned(),
            pin: pin.to_owned(),
            host: host.to_owned(),
        });
    }
    let mut pinned = fleet.clone();
    if let Some(c) = pinned.containers.iter_mut().find(|c| c.spec.name == dst) {
        c.host = Some(host.to_owned());
    }
    let placed = schedule::place_with(
        &pinned,
        &observed.capacities(),
        &observed.current(&fleet.name),
        &Options::default(),
    );
    if let Err(infeasible) = placed
        && let Some(u) = infeasible.unplaced.iter().find(|u| u.container == dst)
    {
        return Err(CloneError::NoRoom {
            src: src.to_owned(),
            dst: dst.to_owned(),
            host: host.to_owned(),
            reason: u.reason.clone(),
        });
    }
    Ok(ClonePlan {
        host: host.to_owned(),
        spec: desired.spec.clone(),
    })
}
