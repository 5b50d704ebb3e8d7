//! `fleet`: the command-line edge.
fn main() {}
