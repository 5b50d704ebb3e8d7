//! Crash repair: what an interrupted command left behind, judged from the store, /proc and the
//! cgroup, finished or rolled back before any verb acts.
//!
//! - a directory without config.json: a create that died before storing the spec: rolled back;
//! - config.json without state.json: a create that died after storing the spec: finished;
//! - phase `destroying`: a destroy that died midway: finished;
//! - a recorded init that is gone, or an unrecorded init found in the cgroup: the record is
//!   corrected (init is the process whose innermost pid is 1); an init of this boot that no
//!   stop ended is recorded as an exit on its own, for the restart policy (`exited.rs`).

use std::fs;

use fleet_protocol::ContainerSpec;

use super::Runtime;
use crate::error::{Result, io_err};
use crate::store::{ContainerLock, Phase, State};
use crate::sys::process;

/// A container as found after repair.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub spec: ContainerSpec,
    pub state: State,
    /// Host pid of a live init.
    pub init: Option<i32>,
}

impl Runtime {
    /// Repairs the container (the caller holds its lock) and returns it, or `None` when it does
    /// not exist (any debris of a failed create or destroy is removed).
    pub(crate) fn repair(&self, name: &str, lock: &ContainerLock) -> Result<Option<Found>> {
        let layout = self.store.layout(name);
        let spec = self.store.read_config(name)?;
        let state = self.store.read_state(name)?;
        let Some(spec) = spec else {
            if layout.dir.exists() || self.cgroup(name).exists() {
                self.remove_everything(name, None, lock)?;
            }
            return Ok(None);
        };
        let mut state = match state {
            Some(s) => s,
            None => {
                self.finish_create(name)?;
                State::default()
            }
        };
        if state.phase == Phase::Destroying {
            self.remove_everything(name, Some(&spec), lock)?;
            return Ok(None);
        }
        let init = self.find_init(name, &state);
        let unrecorded =
            init.is_some() && (state.init_start_time.is_none() || state.boot_id.is_none());
        if init != state.init_pid || unrecorded {
            if let (None, Some(gone)) = (init, state.init_pid) {
                super::exited::note_exit(&mut state, gone);
            }
            state.init_pid = init;
            state.init_start_time = init.and_then(process::start_time);
            if init.is_some() {
                // A live init is of this boot (a state from before boot ids were recorded, or
                // a start cut off before recording init). A `stopping` left by a cut-off stop
                // stays: the SIGTERM it sent may still end init, which is then no crash.
                state.boot_id = process::boot_id();
            }
            self.store.write_state(name, &state)?;
        }
        if init.is_none() && !self.cgroup(name).pids().is_empty() {
            // Processes without their init (it died): a pid namespace without PID 1 is dead.
            self.cgroup(name)
                .kill_all(std::time::Duration::from_secs(5))?;
        }
        Ok(Some(Found { spec, state, init }))
    }

    /// Steps of create after the spec is stored; each is idempotent.
    pub(crate) fn finish_create(&self, name: &str) -> Result<()> {
        self.make_dirs_and_cgroup(name)?;
        self.store.write_state(name, &State::default())
    }

    /// The overlay directories and the cgroup; idempotent.
    pub(crate) fn make_dirs_and_cgroup(&self, name: &str) -> Result<()> {
        let layout = self.store.layout(name);
        for dir in [&layout.upper, &layout.work, &layout.rootfs] {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        self.cgroup(name).create()?;
        super::crash_point("cgroup");
        Ok(())
    }

    /// The live init: the recorded pid if it is still that process, else the process in the
    /// container's cgroup whose innermost pid is 1.
    pub(crate) fn find_init(&self, name: &str, state: &State) -> Option<i32> {
        if let (Some(pid), Some(start)) = (state.init_pid, state.init_start_time)
            && process::alive(pid)
            && process::start_time(pid) == Some(start)
        {
            return Some(pid);
        }
        self.cgroup(name).pids().into_iter().find(|pid| {
            process::alive(*pid)
                && fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("NSpid:"))
                            .map(|l| l.split_whitespace().last() == Some("1"))
                    })
                    .unwrap_or(false)
        })
    }
}
