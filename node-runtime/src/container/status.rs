//! status: one container as the kernel shows it (running or not, init's pid, live limits).

use fleet_protocol::{ContainerState, ContainerStatus};

use super::Runtime;
use crate::error::{Error, Result};
use crate::store::validate_name;

impl Runtime {
    /// The container's status, after repairing what an interrupted command left.
    pub fn status(&self, name: &str) -> Result<ContainerStatus> {
        validate_name(name)?;
        let lock = self.store.lock(name)?;
        let found = self
            .repair(name, &lock)?
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        let cgroup = self.cgroup(name);
        // Not the cgroup: like init, its mounts and its veth, it does not survive a reboot,
        // and the next start makes it again (a container stopped by the shutdown, or never
        // started since the boot, has none and is simply stopped).
        let state = if found.init.is_some() {
            ContainerState::Running
        } else if self.store.layout(name).is_whole() {
            ContainerState::Stopped
        } else {
            ContainerState::Broken
        };
        Ok(ContainerStatus {
            name: name.to_owned(),
            fleet: found.spec.fleet.clone(),
            state,
            init_pid: found.init,
            live: crate::limits::reported::in_spec_terms(
                self.live_resources(&cgroup),
                &found.spec.resources,
                crate::limits::CgroupDirs::version(&cgroup),
            ),
            usage: None,
            restarts: found.state.restart.restarts,
            last_exit: super::exited::last_exit(&found.state),
            moving_to: crate::transfer::moving_to(&self.store.layout(name)),
            moving_live: crate::transfer::moving_live(&self.store.layout(name)),
            spec: found.spec,
        })
    }

    /// Path of the container's console log (init's stdout and stderr).
    pub fn log_path(&self, name: &str) -> Result<std::path::PathBuf> {
        validate_name(name)?;
        let layout = self.store.layout(name);
        if !layout.config.exists() {
            return Err(Error::NotFound(name.to_owned()));
        }
        Ok(layout.log)
    }
}
