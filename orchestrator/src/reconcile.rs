//! The reconcile pipeline every reconciling command runs (plan, apply, status, destroy): with a
//! loaded fleet, observe every host, place the containers with the observed capacities and
//! where they run now, diff, plan.
//!
//! ```text
//!  Fleet (resolve::load) ──▶ observe ──▶ Observed ─┬─▶ capacities, current ──▶ schedule::place
//!                              │                   │                              │
//!                              ▼                   │            Assignment + [Unplaced]
//!                           Sessions               ▼                              ▼
//!                         (kept for apply)       diff ◀───────────────────────────┘
//!                                                  │ Diff (named buckets, refusals)
//!                                                  ▼
//!                                                 plan ──▶ Plan (steps, waves, batches)
//! ```
//!
//! [`reconcile`] is the effectful whole; [`decide`] is everything after observing, pure, so
//! tests run the same stages on observations built in code.

use crate::diff::{self, DiffOptions};
use crate::model::Fleet;
use crate::observe::{self, Observed, Sessions};
use crate::plan::target::{self, TargetError, Targets};
use crate::plan::{self, Plan, PlanError};
use crate::schedule;
use crate::transport::ConnectOptions;

/// What the pipeline produced, with the sessions it opened (kept for `apply`).
pub struct Reconciled {
    /// The desired fleet.
    pub fleet: Fleet,
    /// What was found on every host.
    pub observed: Observed,
    /// The plan.
    pub plan: Plan,
    /// Open sessions by host, for apply; closed with [`observe::close_all`].
    pub sessions: Sessions,
}

/// Observes every host of `fleet` (at most `parallel` at a time), then [`decide`]s.
pub async fn reconcile(
    fleet: Fleet,
    connect: &ConnectOptions,
    parallel: usize,
    opts: DiffOptions,
) -> Result<Reconciled, PlanError> {
    let (observed, sessions) = observe::observe(&fleet, connect, parallel).await;
    let plan = decide(&fleet, &observed, opts)?;
    Ok(Reconciled {
        fleet,
        observed,
        plan,
        sessions,
    })
}

/// Why [`decide_targeted`] made no plan.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The plan could not be ordered.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A target names nothing.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// [`reconcile`] limited to `targets` (`--target`, `-l`): the others' work is left out and listed
/// in [`Plan::untargeted`].
pub async fn reconcile_targeted(
    fleet: Fleet,
    connect: &ConnectOptions,
    parallel: usize,
    opts: DiffOptions,
    targets: &Targets,
) -> Result<Reconciled, DecideError> {
    let (observed, sessions) = observe::observe(&fleet, connect, parallel).await;
    let plan = match decide_targeted(&fleet, &observed, opts, targets) {
        Ok(p) => p,
        Err(e) => {
            observe::close_all(sessions).await;
            return Err(e);
        }
    };
    Ok(Reconciled {
        fleet,
        observed,
        plan,
        sessions,
    })
}

/// The pure stages after observing: place with the observed capacities (a host whose node did
/// not report one keeps the spec's figures) and the containers' current hosts, diff with the
/// scheduler's unplaced containers, plan.
pub fn decide(fleet: &Fleet, observed: &Observed, opts: DiffOptions) -> Result<Plan, PlanError> {
    plan::plan(fleet, decide_diff(fleet, observed, opts))
}

/// [`decide`], then the diff narrowed to `targets` before it is planned.
pub fn decide_targeted(
    fleet: &Fleet,
    observed: &Observed,
    opts: DiffOptions,
    targets: &Targets,
) -> Result<Plan, DecideError> {
    let mut d = decide_diff(fleet, observed, opts);
    let untargeted = target::narrow(&mut d, fleet, observed, targets)?;
    let mut plan = plan::plan(fleet, d)?;
    plan.untargeted = untargeted;
    Ok(plan)
}

fn decide_diff(fleet: &Fleet, observed: &Observed, opts: DiffOptions) -> diff::Diff {
    let capacities = observed.capacities();
    let current = observed.current(&fleet.name);
    let (assignment, unplaced) = match schedule::place(fleet, &capacities, &current) {
        Ok(a) => (a, Vec::new()),
        Err(infeasible) => (infeasible.partial, infeasible.unplaced),
    };
    diff::diff(fleet, &assignment.as_current(), &unplaced, observed, opts)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::Placement;
    use crate::plan::fixture::{capacity, empty_observation, fleet, hello_mut, host, spec};

    #[test]
    fn an_unplaceable_container_is_refused_with_the_schedulers_reason() {
        let mut big = crate::model::DesiredContainer {
            spec: spec("demo", "big"),
            host: None,
            placement: Placement::default(),
            depends_on: Vec::new(),
        };
        big.spec.resources.memory = Some(1 << 50);
        let mut small = big.clone();
        small.spec = spec("demo", "small");
        let f = fleet("demo", vec![host("a")], vec![big, small]);
        let mut observed = empty_observation(&f);
        hello_mut(&mut observed, "a").capacity = capacity(2, 1 << 30, 1 << 40);
        let plan = decide(&f, &observed, DiffOptions::default()).unwrap();
        assert_eq!(plan.diff.create.len(), 1, "{:?}", plan.diff);
        assert_eq!(plan.diff.create[0].name, "small");
        assert_eq!(plan.diff.refused.len(), 1, "{:?}", plan.diff.refused);
        let refusal = &plan.diff.refused[0];
        assert_eq!((refusal.name.as_str(), refusal.host.as_str()), ("big", ""));
        assert!(
            refusal.reason.starts_with("cannot be placed: ") && refusal.reason.contains("memory"),
            "{}",
            refusal.reason
        );
    }
}
