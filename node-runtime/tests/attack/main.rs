//! Attacks on the host through what fleet-node does there as root on a container's behalf, one
//! module per path (docs/security.md): the console log (`console`), copies of a container's
//! data (`copies`: snapshots, clones, disk.from), device nodes (`devices`), and byte streams
//! and host paths a hostile party controls (`streams`: a move's incoming image, checkpoint
//! directories and stream, install-unit). One test binary for all of them, to link once.

#[path = "../support/mod.rs"]
mod support;

mod console;
mod copies;
mod devices;
mod streams;
