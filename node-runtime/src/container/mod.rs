//! Container lifecycle: one file per verb, all methods of [`Runtime`], which ties the store, the
//! cgroups and the templates together for one node root.
//!
//! Every verb takes the container's lock, then [`Runtime::repair`]s what an interrupted earlier
//! command may have left (the truth comes from the store, /proc and the cgroup), then acts.
//! Neighbours: `cli/` and `server/` call these verbs; `spawn.rs` forks init through `sys/`.
//!
//! Hooks for the other parts of the node: [`Runtime::apply_resources`] (limits),
//! [`Runtime::before_init_exec`] (network, after init exists and before it execs the command),
//! and [`Runtime::release_resources`] (disk and network teardown at destroy).

mod boot;
mod confine;
pub(crate) mod console;
mod create;
mod destroy;
mod devices;
mod exec;
mod exited;
mod ids;
mod list;
mod own_files;
mod quota_broker;
mod repair;
mod resources;
mod seed;
mod spawn;
mod start;
mod status;
mod stop;
mod tty;
mod uid_ranges;
mod update;
mod usage;

use std::path::PathBuf;
use std::time::Duration;

use fleet_protocol::{ContainerSpec, Resources};

use crate::cgroups::{Cgroup, CgroupRoot};
use crate::error::Result;
use crate::store::Store;
use crate::template::Sources;

pub use create::validate_spec;
pub use exec::ExecOptions;
pub use exited::{Step, Supervised, now_ms};
pub use ids::{LowerLayers, SHIFTED_ENV, lower_layers};
pub(crate) use repair::Found;
pub(crate) use spawn::IDMAPPED_LOWER;

/// Environment variable that makes a command exit right after the named step, to test crash
/// repair (`dir`, `config`, `cgroup`, `spawned`, `destroying`); read only by builds with the
/// `test-hooks` feature (the crate's tests).
pub const CRASH_AFTER_ENV: &str = "FLEET_NODE_CRASH_AFTER";

/// Seconds `destroy` waits after SIGTERM before killing the container's cgroup.
pub const DESTROY_STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// One node's containers: a store root, a cgroup mount and parent, and template sources.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The persistent store (`--root`).
    pub store: Store,
    /// The host's cgroup mounts.
    pub cgroups: CgroupRoot,
    /// Parent group of every container (`--cgroup-parent`).
    pub cgroup_parent: String,
    /// Where templates come from.
    pub sources: Sources,
    /// Host ids the node hands out as containers' uid/gid ranges (`--uid-pool`).
    pub uid_pool: crate::userns::Pool,
    /// The criu binary to use (`--criu`, `$FLEET_NODE_CRIU`); `None`: `criu` on PATH.
    pub criu: Option<PathBuf>,
    /// Bound of each container's two console log files together (`--console-log-max`).
    pub console_log_max: u64,
}

impl Runtime {
    /// A runtime over `root` using the host's cgroups at /sys/fs/cgroup.
    pub fn new(root: impl Into<PathBuf>, cgroup_parent: &str) -> Result<Self> {
        Self::with_cgroup_mount(root, crate::cgroups::DEFAULT_MOUNT, cgroup_parent)
    }

    /// A runtime with an explicit cgroup mount root.
    pub fn with_cgroup_mount(
        root: impl Into<PathBuf>,
        cgroup_mount: impl Into<PathBuf>,
        cgroup_parent: &str,
    ) -> Result<Self> {
        let store = Store::new(root);
        store.secure()?;
        Ok(Runtime {
            store,
            cgroups: CgroupRoot::detect(cgroup_mount)?,
            cgroup_parent: cgroup_parent.to_owned(),
            sources: Sources::default(),
            uid_pool: crate::userns::DEFAULT_POOL,
            criu: None,
            console_log_max: console::DEFAULT_MAX,
        })
    }

    /// The console of container `name` (its cgroup made): the pipe init writes to, drained by
    /// a keeper into the container's bounded log files (`console.rs`).
    pub(crate) fn console(
        &self,
        name: &str,
        cgroup: &Cgroup,
    ) -> Result<(std::fs::File, console::Starter)> {
        let program = crate::init::install(self.store.root())?;
        let layout = self.store.layout(name);
        console::open(
            name,
            &layout.dir,
            &program,
            &cgroup.join(),
            self.console_log_max,
        )
    }

    /// The container's cgroup (which may not exist yet).
    pub fn cgroup(&self, name: &str) -> Cgroup {
        self.cgroups.group(&self.cgroup_parent, name)
    }

    /// Applies the spec's resource limits to the container's cgroup (and grows its disk), live.
    /// This is the one place the limits module plugs in (`resources.rs`).
    pub fn apply_resources(&self, cgroup: &Cgroup, resources: &Resources) -> Result<()> {
        // v1 counts TCP buffers (the tcpsockbuf beancounter) only in a group whose TCP limit
        // was written once; best effort, as it only feeds a counter.
        if let Some(dir) = cgroup.controller_dir("memory") {
            let _ = crate::counters::enable_tcp_accounting(&dir);
        }
        self.apply_limits(cgroup, resources)
    }

    /// Limits as the kernel and the disk image have them, for status and drift detection
    /// (`crate::limits::read_live` plus the disk's size and inodes).
    pub fn live_resources(&self, cgroup: &Cgroup) -> Resources {
        self.live_limits(cgroup)
    }

    /// Runs after init exists (host pid `init_pid`, all namespaces made) and before it execs the
    /// spec's command: the place to attach networking.
    pub fn before_init_exec(&self, spec: &ContainerSpec, init_pid: i32) -> Result<()> {
        crate::network::attach(init_pid as u32, &self.link_key(&spec.name), &spec.network)
            .map_err(network_error(&spec.name))
    }

    /// What a container's host-side interface names and eth0's MAC are made from
    /// (`network::veth`): its name on a node with the default root, so that they stay what older
    /// nodes made; on a node with another root (a second node on one machine, as the tests run
    /// two) the root as well, so that two nodes never take or delete each other's interfaces for
    /// containers of the same name: a move between them would otherwise lose the target's pair
    /// when the source's copy is destroyed.
    pub fn link_key(&self, name: &str) -> String {
        let root = self.store.root();
        if root == std::path::Path::new(crate::store::DEFAULT_ROOT) {
            name.to_owned()
        } else {
            format!("{}\0{name}", root.display())
        }
    }

    /// Runs at destroy after the container's processes are gone and before its directory is
    /// removed: the place to detach disks and network pieces.
    pub fn release_resources(&self, spec: Option<&ContainerSpec>) -> Result<()> {
        // Init is gone, so the kernel has normally deleted the veth pair already; this removes
        // one an interrupted attach may have left.
        if let Some(spec) = spec {
            crate::network::detach(&self.link_key(&spec.name))
                .map_err(network_error(&spec.name))?;
        }
        Ok(())
    }
}

/// Shorthand for wrapping a network module error with the container's name.
pub(crate) fn network_error(
    name: &str,
) -> impl FnOnce(crate::network::NetworkError) -> crate::error::Error {
    let name = name.to_owned();
    move |source| crate::error::Error::Network { name, source }
}

/// Exits at once when [`CRASH_AFTER_ENV`] names `step` (test hook for crash repair, built only
/// with the `test-hooks` feature, which only the crate's tests enable).
#[cfg(feature = "test-hooks")]
pub(crate) fn crash_point(step: &str) {
    if std::env::var(CRASH_AFTER_ENV).is_ok_and(|s| s == step) {
        crate::sys::process::exit_now(86);
    }
}

/// Without the `test-hooks` feature (every shipped build) there is no crash hook.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub(crate) fn crash_point(_step: &str) {}
