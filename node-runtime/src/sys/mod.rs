//! The only place where `fleet-node` talks to the kernel without a safe wrapper: fork, namespaces,
//! mounts (idmapped ones too), user namespaces with their id maps, capability bounding set,
//! keyrings, seccomp (user notification too), quotactl, pidfds, the read-only re-execution of exec, the process events connector and file descriptor hygiene.
//!
//! Neighbours: `container/` (spawns init and exec'd processes through [`process`] and [`ns`]),
//! `rootfs/` (builds the container's mount tree through [`mount`]). Everything here is a narrow
//! function over one syscall or one short sequence of them, so the rest of the crate stays safe.
#![allow(unsafe_code)]

pub mod beneath;
pub mod bpf;
pub mod caps;
pub mod detached;
pub mod idmap;
pub mod keyring;
pub mod mount;
pub mod ns;
pub mod proc_events;
pub mod process;
pub mod pty;
pub mod sealed_exe;
pub mod seccomp;
pub mod seccomp_notify;
#[cfg(test)]
mod seccomp_tests;
pub mod userns;
pub mod xattr;
