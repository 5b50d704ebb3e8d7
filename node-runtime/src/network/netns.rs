//! Where netlink requests run. Each operation gets a short-lived worker thread with its own
//! single-threaded tokio runtime and rtnetlink socket, so callers stay synchronous and may call
//! from inside their own runtime. A netlink socket acts in the network namespace its thread was
//! in when the socket was opened, so the container side enters the init process's namespace
//! with setns(2) on that thread first (safe in nix; no `unsafe` here). The host side simply
//! inherits the caller's namespace: a new thread starts in its creator's namespace, which is
//! what lets the tests run everything inside a namespace of their own.
//!
//! Neighbours: `bridge.rs`, `veth.rs`, `route.rs` and `mod.rs` pass async closures here.

use std::fs::File;
use std::future::Future;
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns};
use rtnetlink::Handle;

use super::NetworkError;

/// Which network namespace a worker acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The caller's own namespace (the host, or a test's namespace).
    Host,
    /// The namespace of this process (a container's init).
    Container(u32),
}

impl Side {
    /// Human words for errors.
    pub fn describe(self) -> String {
        match self {
            Side::Host => "the host namespace".to_string(),
            Side::Container(pid) => format!("the namespace of container init pid {pid}"),
        }
    }
}

/// Path of a process's network namespace file.
pub fn ns_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// Runs `op` with a netlink handle acting in `side`'s namespace, on a fresh thread.
pub fn run<T, F, Fut>(side: Side, op: F) -> Result<T, NetworkError>
where
    T: Send,
    F: FnOnce(Handle) -> Fut + Send,
    Fut: Future<Output = Result<T, NetworkError>>,
{
    // Opened before the thread starts so a gone init fails fast with its path.
    let ns_file = match side {
        Side::Host => None,
        Side::Container(pid) => {
            let path = ns_path(pid);
            let file = File::open(&path).map_err(|source| NetworkError::OpenNamespace {
                path: path.clone(),
                source,
            })?;
            Some((path, file))
        }
    };
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            if let Some((path, file)) = ns_file {
                // Only this thread moves; the thread ends with the operation, so no other code
                // ever runs in the container's namespace by accident.
                setns(&file, CloneFlags::CLONE_NEWNET)
                    .map_err(|source| NetworkError::EnterNamespace { path, source })?;
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .map_err(NetworkError::Worker)?;
            runtime.block_on(async move {
                let (connection, handle, _) =
                    rtnetlink::new_connection().map_err(NetworkError::Worker)?;
                tokio::spawn(connection);
                op(handle).await
            })
        });
        worker.join().map_err(|_| NetworkError::WorkerPanicked)?
    })
}
