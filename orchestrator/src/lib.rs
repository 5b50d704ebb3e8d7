//! The `fleet` orchestrator library: the pure stages (spec, resolve, schedule, diff, plan), the
//! effectful edges (observe, apply, transport), the pipeline that joins them (`reconcile`), and
//! the CLI's commands. docs/ARCHITECTURE.md is the map.
#![forbid(unsafe_code)]
pub mod advise;
pub mod apply;
pub mod capacity;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod import;
pub mod migrate;
pub mod model;
pub mod node_binary;
pub mod observe;
pub mod parallel;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod resolve;
pub mod schedule;
pub mod spec;
pub mod transport;
