//! The `fleet` orchestrator library.
#![forbid(unsafe_code)]
pub mod model;
