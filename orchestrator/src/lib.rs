//! The `fleet` orchestrator library.
#![forbid(unsafe_code)]
pub mod diff;
pub mod model;
pub mod plan;
pub mod schedule;
pub mod cli;
pub mod commands;
pub mod resolve;
pub mod spec;
