//! Shared helpers of the end-to-end tests.
pub mod counter;
pub mod fleetctl;
pub mod moves;
pub mod sshd;
