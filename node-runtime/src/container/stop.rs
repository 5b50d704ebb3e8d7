//! stop: SIGTERM to init, wait up to the timeout, then SIGKILL everything in the container's
//! cgroup. Leaves no process behind.
//!
//! The kernel drops signals sent to a PID namespace's init unless init handles them, so an init
//! without a SIGTERM handler (`sleep`, most single-program containers) is killed at once rather
//! than after a timeout it could never end early: destroying 500 such containers took 2 s each.

use std::time::Duration;

use fleet_protocol::RestartPolicy;
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

    /// Stops every container of the node, up to 16 at a time (a host's shutdown waits for the
    /// slowest, not for their sum); one result per container, in name order. Containers that
    /// were not running are stopped too, in that a restart they were waiting for is dropped.
    pub fn stop_all(&self, timeout: Duration) -> Result<Vec<(String, Result<bool>)>> {
        let names = self.store.names()?;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(Vec::with_capacity(names.len()));
        std::thread::scope(|scope| {
            for _ in 0..names.len().min(16) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(name) = names.get(i) else { break };
                        let result = match self.stop(name, timeout) {
                            Err(Error::NotFound(_)) => continue,
                            other => other,
                        };
                        results
                            .lock()
                            .expect("no thread panics holding it")
                            .push((name.clone(), result));
                    }
                });
            }
        });
        let mut results = results.into_inner().expect("no thread panicked holding it");
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
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
        let mut state = found.state;
        let Some(init) = found.init else {
            // A stop of a container waiting for its restart: it stays stopped.
            if super::exited::drop_pending(&mut state) {
                self.store.write_state(name, &state)?;
            }
            return Ok(false);
        };
        if found.spec.restart.policy != RestartPolicy::No {
            // If this stop is cut off after the kill, repair must not take the dead init for
            // one that ended on its own (and restart it).
            state.restart.stopping = true;
            self.store.write_state(name, &state)?;
        }
        self.kill_container(name, init, timeout)?;
        state.init_pid = None;
        state.init_start_time = None;
        state.restart.stopping = false;
        super::exited::drop_pending(&mut state);
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
        if !timeout.is_zero() && catches_sigterm(init) {
            let _ = process::pidfd_signal(&pidfd, Signal::SIGTERM);
            if process::wait_pidfd(&pidfd, timeout).map_err(io_err("wait for", &proc_path))? {
                return drain_then_kill(&cgroup);
            }
        }
        let _ = process::pidfd_signal(&pidfd, Signal::SIGKILL);
        drain_then_kill(&cgroup)?;
        process::wait_pidfd(&pidfd, Duration::from_secs(5))
            .map_err(io_err("wait for", &proc_path))?;
        Ok(())
    }
}

/// Once init is gone the kernel ends its pid namespace, and the console keeper (in the
/// container's cgroup, outside that namespace) ends by itself when it has written the last
/// bytes: a short wait for that, then SIGKILL for whatever is left.
fn drain_then_kill(cgroup: &crate::cgroups::Cgroup) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while !cgroup.pids().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    cgroup.kill_all(Duration::from_secs(5))
}

/// Whether `pid` has a handler for SIGTERM (bit 15 of `SigCgt` in /proc/PID/status), or is the
/// builtin init, which waits for it with the signal blocked and forwards it to the command (a
/// command that is not PID 1 dies of it by default). An unreadable status counts as "yes",
/// which keeps the graceful path.
fn catches_sigterm(pid: i32) -> bool {
    if crate::init::is_running_as(pid) {
        return true;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_none_or(|mask| mask & (1 << (Signal::SIGTERM as u64 - 1)) != 0)
}

#[cfg(test)]
mod tests {
    use super::catches_sigterm;

    #[test]
    fn sigterm_handlers_are_seen_in_proc() {
        // The test harness does not catch SIGTERM; a shell that traps it does.
        assert!(!catches_sigterm(std::process::id() as i32));
        let mut child = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                "trap 'exit 0' TERM; echo ready; while :; do sleep 1; done",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")),
            &mut line,
        )
        .expect("ready");
        let caught = catches_sigterm(child.id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        assert!(caught);
    }
}
