//! `fleet-node`: the per-host command.
fn main() {}
