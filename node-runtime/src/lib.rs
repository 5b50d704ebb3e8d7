//! The `fleet-node` runtime library: builds system containers from kernel parts and keeps them
//! on one host.
//!
//! Code map: `sys/` holds every raw syscall (the only `unsafe`); `cgroups/` manages control groups
//! without knowing about containers; `template/` builds the cached OS trees; `rootfs/` mounts a
//! container's root inside its namespace; `store/` persists specs and state atomically under a
//! per-container lock; `container/` has one file per verb and repairs interrupted work;
//! `server/` speaks the stdio protocol; `cli/` is the admin command line. `limits/` writes and reads
//! resource limits in a cgroup, `disk/` owns each container's ext4 disk image (its writable
//! layer), `counters/` reads beancounters from both. `userns/` allocates each
//! unprivileged container's uid/gid range. `supervise/` is the optional restart supervisor.
//! `quotactl/` checks the quota calls a container makes on its own disk (`disk.user_quota`).
//! `checkpoint/` dumps and restores a running container with CRIU (the live move's node side), and makes snapshots and clones of its disk.

pub mod cgroups;
pub mod checkpoint;
pub mod cli;
pub mod container;
pub mod counters;
pub mod disk;
pub mod error;
pub mod init;
pub mod limits;
pub mod network;
pub mod quotactl;
pub mod rootfs;
pub mod safe_write;
pub mod seccomp;
pub mod server;
pub mod store;
pub mod supervise;
pub mod sys;
pub mod template;
pub mod transfer;
pub mod userns;

pub use container::Runtime;
pub use error::{Error, Result};
