//! The `fleet` orchestrator library.
#![forbid(unsafe_code)]
pub mod apply;
pub mod capacity;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod model;
pub mod observe;
pub mod plan;
pub mod resolve;
pub mod schedule;
pub mod spec;
pub mod transport;
