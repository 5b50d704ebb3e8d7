//! stop: SIGTERM to init, wait up to the timeout, then SIGKILL everything in the container's
//! cgroup. Leaves no process behind.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::Runtime;
use crate::error::{Error, Result, io_err};
use crate::store::{ContainerLock, validate_name};
use crate::sys::process;

impl Runtime {
    /// Stops the container; `false` when it was not running.
    pub fn stop(&self, name: &str, timeout: Duration) -> Result<bool> {
        validate_name(name)?;
        let lock = self.store.lock(name)?;
        self.stop_locked(name, timeout, &lock)
    }

    pub(crate) fn stop_locked(
        &self,
        name: &str,
        timeout: Duration,
        lock: &ContainerLock,
    ) -> Result<bool> {
        let found = self
            .repair(name, lock)?
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        let Some(init) = found.init else {
            return Ok(false);
        };
        self.kill_container(name, init, timeout)?;
        let mut state = found.state;
        state.init_pid = None;
        state.init_start_time = None;
        self.store.write_state(name, &state)?;
        Ok(true)
    }

    /// SIGTERM to init, then SIGKILL to the whole cgroup after `timeout`; returns once init is
    /// gone and the cgroup is empty.
    pub(crate) fn kill_container(&self, name: &str, init: i32, timeout: Duration) -> Result<()> {
        let cgroup = self.cgroup(name);
        let pidfd = match process::pidfd_open(init) {
            Ok(fd) => fd,
            // Gone between the check and now: only stragglers in the cgroup may be left.
            Err(_) => return cgroup.kill_all(Duration::from_secs(5)),
        };
        let proc_path = format!("/proc/{init}");
        if !timeout.is_zero() {
            let _ = process::pidfd_signal(&pidfd, Signal::SIGTERM);
            if process::wait_pidfd(&pidfd, timeout).map_err(io_err("wait for", &proc_path))? {
                return cgroup.kill_all(Duration::from_secs(5));
            }
        }
        let _ = process::pidfd_signal(&pidfd, Signal::SIGKILL);
        cgroup.kill_all(Duration::from_secs(5))?;
        process::wait_pidfd(&pidfd, Duration::from_secs(5))
            .map_err(io_err("wait for", &proc_path))?;
        Ok(())
    }
}
