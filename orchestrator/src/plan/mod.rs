//! The plan: a [`Diff`] turned into an ordered graph of wire actions, cut into per-host batches
//! that run in waves.
//!
//! Pure, like `diff` before it; `apply` executes exactly what this produces and `render` prints
//! it. The graph (petgraph) has one node per container decision ([`Step`]) and an edge wherever
//! one step must finish first: a container's dependencies (`depends_on`, across hosts) are created
//! or started before it, and the old half of a move is destroyed before the new half is created.
//! A step's wave is the number of cross-host edges on its longest path in, so steps that depend
//! only on steps of the same host share their wave (the node executes a batch in order): a run
//! without cross-host dependencies is one round trip per host.

#[cfg(test)]
mod converge_tests;
#[cfg(any(test, feature = "test-support"))]
pub mod fixture;
pub mod render;
pub mod saved;
pub mod target;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use fleet_protocol::{Action, ContainerSpec};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::diff::{Change, Diff};
use crate::model::Fleet;

/// Seconds a stop waits after SIGTERM before killing the container's cgroup.
pub const STOP_TIMEOUT_SECS: u32 = 10;

/// What a step does to its container; the order is the order within a host's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Destroy (pruned, or the old half of a move).
    Destroy,
    /// Stop.
    Stop,
    /// Change while it runs.
    UpdateLive,
    /// Change with a restart.
    UpdateRestart,
    /// Destroy and create again.
    Recreate,
    /// Create (or repair).
    Create,
    /// Start.
    Start,
    /// Change host: the apply runs it over both hosts' sessions (`migrate`), not as actions in
    /// a batch; it is listed under the host it goes to.
    Move,
}

impl StepKind {
    /// Whether the step leaves the container's init (re)started, so dependants wait for it.
    fn starts(self) -> bool {
        matches!(
            self,
            StepKind::Create
                | StepKind::Start
                | StepKind::Recreate
                | StepKind::UpdateRestart
                | StepKind::Move
        )
    }
}

/// One container's decision with the wire actions that carry it out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Index in [`Plan::steps`].
    pub id: usize,
    /// What it does.
    pub kind: StepKind,
    /// The diff's decision.
    pub change: Change,
    /// Actions sent to the node, in order.
    pub actions: Vec<Action>,
    /// Wave it runs in (0-based).
    pub wave: usize,
    /// Steps that must succeed first.
    pub after: Vec<usize>,
}

/// The actions one host runs in one wave: one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Batch {
    /// Host name.
    pub host: String,
    /// Wave.
    pub wave: usize,
    /// Steps, in execution order.
    pub steps: Vec<usize>,
}

/// A plan: the diff it came from, its steps and the batches that run them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The decisions, by bucket.
    pub diff: Diff,
    /// Steps, in a topological order.
    pub steps: Vec<Step>,
    /// Batches, by wave then host.
    pub batches: Vec<Batch>,
    /// Work left out because `--target`/`-l` did not ask for it (`target::narrow`).
    pub untargeted: Vec<target::Untargeted>,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// `depends_on` forms a cycle among containers that have work to do.
    #[error("depends_on forms a cycle through {0}")]
    Cycle(String),
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Creates, including the create half of a recreate.
    pub create: usize,
    /// Live updates, starts and stops.
    pub update_live: usize,
    /// Updates that restart.
    pub restart: usize,
    /// Destroys, including the destroy half of a recreate.
    pub destroy: usize,
    /// Moves to another host.
    pub moves: usize,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Numbers for `Plan: N to create, ...`.
    pub fn summary(&self) -> Summary {
        let d = &self.diff;
        Summary {
            create: d.create.len() + d.recreate.len(),
            update_live: d.update_live.len() + d.start.len() + d.stop.len(),
            restart: d.update_restart.len(),
            destroy: d.destroy.len() + d.recreate.len(),
            moves: d.moves.len(),
        }
    }

    /// Number of waves.
    pub fn waves(&self) -> usize {
        self.batches.iter().map(|b| b.wave + 1).max().unwrap_or(0)
    }

    /// Whether executing it destroys or restarts anything (which needs confirmation).
    pub fn is_destructive(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.kind,
                StepKind::Destroy | StepKind::Recreate | StepKind::UpdateRestart | StepKind::Move
            )
        })
    }
}

/// Orders the diff's decisions into steps, waves and per-host batches.
pub fn plan(fleet: &Fleet, mut diff: Diff) -> Result<Plan, PlanError> {
    let mut steps: Vec<Step> = Vec::new();
    let buckets: [(StepKind, &mut Vec<Change>); 8] = [
        (StepKind::Destroy, &mut diff.destroy),
        (StepKind::Stop, &mut diff.stop),
        (StepKind::UpdateLive, &mut diff.update_live),
        (StepKind::UpdateRestart, &mut diff.update_restart),
        (StepKind::Recreate, &mut diff.recreate),
        (StepKind::Create, &mut diff.create),
        (StepKind::Start, &mut diff.start),
        (StepKind::Move, &mut diff.moves),
    ];
    for (kind, bucket) in buckets {
        for change in bucket.iter_mut() {
            // The desired spec moves into the actions rather than being copied: a 10,000
            // container plan spends most of its time copying specs otherwise.
            let spec = change.spec.take();
            steps.push(Step {
                id: 0,
                kind,
                actions: actions_for(kind, change, spec),
                change: change.clone(),
                wave: 0,
                after: Vec::new(),
            });
        }
    }
    // Insertion order (host, kind, name) is also the tie-break of the topological order, so
    // batches read in a stable, predictable order.
    steps.sort_by(|a, b| {
        (&a.change.host, a.kind, &a.change.name).cmp(&(&b.change.host, b.kind, &b.change.name))
    });

    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(steps.len(), steps.len());
    let nodes: Vec<NodeIndex> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
    let mut starter: HashMap<&str, usize> = HashMap::new();
    let mut destroyer: HashMap<&str, usize> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if s.kind.starts() {
            starter.insert(s.change.name.as_str(), i);
        }
        if s.kind == StepKind::Destroy {
            destroyer.insert(s.change.name.as_str(), i);
        }
    }
    for (i, s) in steps.iter().enumerate() {
        if s.kind.starts()
            && let Some(desired) = fleet.container(&s.change.name)
        {
            for dep in &desired.depends_on {
                if let Some(&j) = starter.get(dep.as_str()) {
                    graph.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
        // A move waits for any destroy of the same name (the copy a finished move left).
        if let Some(&j) = destroyer.get(s.change.name.as_str())
            && ((s.kind == StepKind::Create && steps[j].change.host != s.change.host)
                || s.kind == StepKind::Move)
        {
            graph.add_edge(nodes[j], nodes[i], ());
        }
    }

    // Kahn's algorithm, always taking the lowest ready index: deterministic and close to the
    // insertion order.
    let mut indegree: Vec<usize> = nodes
        .iter()
        .map(|&n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BTreeSet<usize> = (0..steps.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order: Vec<usize> = Vec::with_capacity(steps.len());
    let mut wave = vec![0usize; steps.len()];
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for next in graph.neighbors_directed(nodes[i], Direction::Outgoing) {
            let j = graph[next];
            // A move runs after its wave's batches, over two hosts: whatever waits for it, or
            // it for, is in another wave.
            let hop = usize::from(
                steps[i].change.host != steps[j].change.host
                    || steps[i].kind == StepKind::Move
                    || steps[j].kind == StepKind::Move,
            );
            wave[j] = wave[j].max(wave[i] + hop);
            steps[j].after.push(i);
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    if order.len() != steps.len() {
        let stuck = (0..steps.len())
            .filter(|&i| indegree[i] > 0)
            .map(|i| steps[i].change.name.clone())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PlanError::Cycle(stuck));
    }

    // Renumber steps in topological order.
    let mut new_id = vec![0usize; steps.len()];
    for (pos, &old) in order.iter().enumerate() {
        new_id[old] = pos;
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let mut ordered: Vec<Step> = Vec::with_capacity(slots.len());
    for &old in &order {
        let mut s = slots[old].take().expect("each step is taken once");
        s.id = new_id[old];
        s.wave = wave[old];
        s.after = s.after.iter().map(|&a| new_id[a]).collect();
        s.after.sort_unstable();
        ordered.push(s);
    }

    let mut by_batch: std::collections::BTreeMap<(usize, &str), Vec<usize>> =
        std::collections::BTreeMap::new();
    for s in &ordered {
        by_batch
            .entry((s.wave, s.change.host.as_str()))
            .or_default()
            .push(s.id);
    }
    let batches = by_batch
        .into_iter()
        .map(|((wave, host), steps)| Batch {
            host: host.to_string(),
            wave,
            steps,
        })
        .collect();
    Ok(Plan {
        diff,
        steps: ordered,
        batches,
        untargeted: Vec::new(),
    })
}

fn actions_for(kind: StepKind, change: &Change, spec: Option<ContainerSpec>) -> Vec<Action> {
    let name = change.name.clone();
    let update = |spec: Option<ContainerSpec>, allow_restart: bool| {
        spec.map(|spec| Action::Update {
            spec,
            allow_restart,
        })
    };
    let changed = !change.fields.is_empty();
    let mut out = Vec::new();
    match kind {
        StepKind::Destroy => out.push(Action::Destroy { name }),
        StepKind::Stop => {
            out.push(Action::Stop {
                name,
                timeout_secs: STOP_TIMEOUT_SECS,
            });
            if changed {
                out.extend(update(spec, true));
            }
        }
        StepKind::UpdateLive => {
            // A stopped container has no process to restart, so nothing is lost by allowing it.
            out.extend(update(spec, change.offline));
        }
        StepKind::UpdateRestart => out.extend(update(spec, true)),
        StepKind::Recreate => {
            out.push(Action::Destroy { name });
            out.extend(spec.map(|spec| Action::Create { spec }));
        }
        StepKind::Create => out.extend(spec.map(|spec| Action::Create { spec })),
        StepKind::Start => {
            if changed {
                out.extend(update(spec, true));
            }
            out.push(Action::Start { name });
        }
        // The spec travels with the move (`apply` hands it to `migrate::drive`), as a create
        // would carry it; no action goes into a batch.
        StepKind::Move => out.extend(spec.map(|spec| Action::Create { spec })),
    }
    out
}
