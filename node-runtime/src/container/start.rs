//! start and restart: run the spec's command as init of a fresh set of namespaces, detached from
//! fleet-node, with stdout and stderr appended to the container's console log.

use std::ffi::CString;
use std::fs::OpenOptions;

use fleet_protocol::{ContainerSpec, NetworkMode, TemplateRef};

use super::spawn::{InitPlan, USERNS_RANGE, init_env, spawn_init};
use super::{Runtime, crash_point, own_files};
use crate::error::{Error, Result, io_err};
use crate::store::{ContainerLock, State, validate_name};
use crate::sys::process;
use crate::{rootfs, template};

impl Runtime {
    /// Starts init; `false` when it was already running.
    pub fn start(&self, name: &str) -> Result<bool> {
        validate_name(name)?;
        let lock = self.store.lock(name)?;
        self.start_locked(name, &lock)
    }

    /// Stops, then starts again (always changes something).
    pub fn restart(&self, name: &str, timeout: std::time::Duration) -> Result<bool> {
        validate_name(name)?;
        let lock = self.store.lock(name)?;
        self.stop_locked(name, timeout, &lock)?;
        self.start_locked(name, &lock)?;
        Ok(true)
    }

    pub(crate) fn start_locked(&self, name: &str, lock: &ContainerLock) -> Result<bool> {
        let found = self
            .repair(name, lock)?
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        if found.init.is_some() {
            return Ok(false);
        }
        self.launch(name, &found.spec, found.state, false)?;
        Ok(true)
    }

    /// Spawns init for a stopped container and records it. `cgroup_ready` skips re-creating a
    /// cgroup the caller has just made.
    pub(crate) fn launch(
        &self,
        name: &str,
        spec: &ContainerSpec,
        mut state: State,
        cgroup_ready: bool,
    ) -> Result<()> {
        let cgroup = self.cgroup(name);
        if !cgroup_ready {
            cgroup.create()?;
        }
        let layout = self.store.layout(name);
        // The overlay's writable layer: on the container's own disk image when it has one.
        let (upper, work) = self.writable_layer(name, &spec.resources)?;
        self.apply_resources(&cgroup, &spec.resources)?;
        if spec.user_namespace && state.userns_base.is_none() {
            // Node-wide lock: two containers starting at once must not pick the same range.
            let _allocating = self.store.node_lock("userns")?;
            state.userns_base = Some(self.allocate_userns_base(name)?);
            self.store.write_state(name, &state)?;
        }
        let templates = self.store.templates_dir();
        let prepared = match state.userns_base.filter(|_| spec.user_namespace) {
            Some(base) => {
                template::prepare_shifted(&templates, &spec.template, &self.sources, base)?
            }
            None => template::prepare(&templates, &spec.template, &self.sources)?,
        };
        if let Some(base) = state.userns_base.filter(|_| spec.user_namespace) {
            for dir in [&upper, &work] {
                nix::unistd::chown(
                    dir,
                    Some(nix::unistd::Uid::from_raw(base)),
                    Some(nix::unistd::Gid::from_raw(base)),
                )
                .map_err(|e| io_err("chown", dir)(e.into()))?;
            }
        }
        if spec.template == TemplateRef::Host {
            let owner = state.userns_base.filter(|_| spec.user_namespace);
            own_files::write(&upper, spec, owner)?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&layout.log)
            .map_err(io_err("open log", &layout.log))?;
        let (env, path_dirs) = init_env(&spec.env);
        let hide = std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .filter(|exe| prepared.host_binds.iter().any(|b| exe.starts_with(b)))
            .into_iter()
            .collect();
        let plan = InitPlan {
            rootfs: rootfs::Plan {
                target: layout.rootfs.clone(),
                lower: prepared.lower,
                upper,
                work,
                host_binds: prepared.host_binds,
                hide,
            },
            hostname: spec.hostname.clone(),
            argv: spec
                .command
                .iter()
                .map(|a| CString::new(a.as_str()).expect("validated: no NUL"))
                .collect(),
            env,
            path_dirs,
            log,
            cgroup_join: cgroup.self_join_files(),
            new_net: spec.network.mode != NetworkMode::Host,
            userns_base: state.userns_base.filter(|_| spec.user_namespace),
        };
        let pid = spawn_init(&plan, |pid| {
            self.before_init_exec(spec, pid).map_err(|e| e.to_string())
        })
        .map_err(|message| {
            let _ = cgroup.kill_all(std::time::Duration::from_secs(2));
            Error::Spawn {
                name: name.to_owned(),
                message,
            }
        })?;
        crash_point("spawned");
        state.init_pid = Some(pid);
        state.init_start_time = process::start_time(pid);
        self.store.write_state(name, &state)
    }

    /// The lowest free uid range above 100000 not used by another container's user namespace.
    fn allocate_userns_base(&self, name: &str) -> Result<u32> {
        let mut used = Vec::new();
        for other in self.store.names()? {
            if other == name {
                continue;
            }
            if let Ok(Some(s)) = self.store.read_state(&other) {
                used.extend(s.userns_base);
            }
        }
        let mut base = 100_000u32;
        while used.contains(&base) {
            base += USERNS_RANGE;
        }
        Ok(base)
    }
}
