//! Fleet's shared vocabulary: the resolved, host-independent description of a container
//! ([`container`]), the messages `fleet` and `fleet-node` exchange ([`message`]), the unit syntax
//! both sides accept for sizes and percentages ([`units`]), the table of what changing each
//! field takes ([`effects`]), the `restart` field and how an init ended ([`restart`]), whether a
//! move can be live ([`live`]), the `security` field with the system call names both sides check
//! it against ([`security`]) and the host devices it grants ([`devices`]), OpenVZ's I/O priorities as weights ([`ioprio`]), what a move between
//! hosts sends ([`transfer`]), snapshots and clones of a container's data ([`snapshot`]), and the disk rules both sides enforce ([`disk`]).
//!
//! Neighbours: the orchestrator resolves spec files into [`container::ContainerSpec`] values and
//! sends them in [`message::Request`]s; `fleet-node` answers with [`message::Response`]s. This crate
//! does no I/O: framing (length-delimited frames of JSON) is done by each side's transport.
#![forbid(unsafe_code)]

pub mod action;
pub mod apply_lock;
pub mod container;
pub mod devices;
pub mod disk;
pub mod effects;
pub mod io_weight;
pub mod ioprio;
pub mod live;
pub mod message;
pub mod raw_frame;
pub mod restart;
pub mod security;
pub mod snapshot;
pub mod transfer;
pub mod uid_ranges;
pub mod units;

pub use container::{
    ContainerSpec, DEFAULT_PIDS, DesiredState, DiskSpec, InitMode, IoLimits, KNOWN_INITS,
    NetworkMode, NetworkSpec, Resources, TemplateRef,
};
pub use effects::{Effect, FIELDS, FieldRule, Verdict, View};
pub use message::{
    Action, ActionOutcome, ActionResult, Capacity, ContainerState, ContainerStatus, Envelope,
    Features, InterruptedBatch, LockHolder, NodeInfo, PROTOCOL_VERSION, Request, Response,
    WeightFile,
};
pub use restart::{Decision, ExitStatus, LastExit, RestartPolicy, RestartSpec, SupervisorInfo};
pub use security::{SecuritySpec, SyscallRules};
