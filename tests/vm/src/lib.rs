//! Fleet's VM test tier: real Debian 12 hosts (systemd, the unified cgroup v2 hierarchy, full
//! capabilities) under QEMU on this machine, each driven only the way an operator drives a host:
//! `fleet bootstrap`, `fleet apply` and the other verbs over SSH, host keys verified.
//!
//! - [`image`]: the root image, built from Debian packages ([`recipe`]) and cached by what went
//!   into it; built at most once per recipe and kernel ([`cache`]'s lock), shared by every
//!   VM test.
//! - [`initramfs`]: the VMs' own small initramfs (busybox, the root disk's modules, `/init`).
//! - [`vm`]: one QEMU (TCG) VM booted from its own copy-on-write overlay, reachable only on a
//!   forwarded port on 127.0.0.1; boot, reboot, poweroff, kill.
//! - [`ssh`]: the harness's own OpenSSH client for checks (read cgroup files, copy a file in).
//! - [`cluster`]: N VMs booted in parallel, optional links between them, and the `fleet` CLI
//!   run against them.
//! - [`phase`]: the tier's named, timed phases (one boot of the pair for every check).
//! - [`prereq`]: what the tier needs here; fails under `CI=true`, skips elsewhere.
//! - [`command`]: a helper program run to success or the test fails (the orchestrator tests'
//!   own, shared by `#[path]`).
//!
//! The tests are in `tests/vm/tests/vm/`. See docs/decisions.md ("VM test tier").

pub mod bins;
pub mod cache;
pub mod cluster;
#[path = "../../../orchestrator/tests/support/command.rs"]
pub mod command;
pub mod image;
pub mod initramfs;
pub mod phase;
pub mod prereq;
pub mod recipe;
pub mod ssh;
pub mod vm;

pub use cluster::Cluster;
pub use prereq::skip_unless_ready;
pub use vm::{Vm, VmOptions};
