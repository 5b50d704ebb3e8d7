//! start and restart: run the spec's command as init of a fresh set of namespaces, detached from
//! fleet-node, with stdout and stderr appended to the container's console log.

use std::ffi::CString;
use std::os::fd::AsRawFd;

use fleet_protocol::{ContainerSpec, NetworkMode};

use super::confine::{filter_for, init_env};
use super::ids::Ids;
use super::spawn::{IDMAPPED_LOWER, InitPlan, Spawned, spawn_init};
use super::{Runtime, crash_point, own_files};
use crate::cgroups::devices::HostDevice;
use crate::error::{Error, Result, io_err};
use crate::rootfs;
use crate::store::{ContainerLock, DIR_MODE, FILE_MODE, Layout, State, tighten, validate_name};
use crate::sys::process;

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
        // Started by a verb: the restart policy's counts begin again.
        let mut state = found.state;
        super::exited::drop_pending(&mut state);
        state.restart.restarts = 0;
        state.restart.streak = 0;
        self.launch(name, &found.spec, state, false)?;
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
        // The granted host devices, found before anything is made: a missing one fails the start.
        let devices = HostDevice::find_all(name, &spec.security.devices)?;
        if !cgroup_ready {
            cgroup.create()?;
        }
        // v1: on top of the deny-all and default list `create` wrote; v2: the device program.
        crate::cgroups::devices::guard(&cgroup, &devices)?;
        let layout = self.store.layout(name);
        // The overlay's writable layer: on the container's own disk image when it has one.
        let (upper, work) = self.writable_layer(name, spec)?;
        // The first content of the layer, copied in once, on host ids (shifted just below).
        if let Some(from) = &spec.disk.from
            && super::seed::seed(name, from, &upper, &mut state)?
        {
            self.store.write_state(name, &state)?;
        }
        let flat = self.flat_root(name, spec, &upper, &mut state)?;
        self.apply_resources(&cgroup, &spec.resources)?;
        // Privileged or not: the layer's owners, the user namespace and the template as the
        // container's ids see it (userns/layer.rs).
        let Ids {
            base,
            userns,
            lower_mount,
            template: prepared,
        } = self.prepare_ids(name, spec, &mut state, &upper, &work)?;
        own_files::write(&upper, &prepared.lower, spec, base)?;
        secure_layout(&layout, base)?;
        if lower_mount.is_some() {
            // Where init attaches the idmapped template, below the container's own directory
            // (which the user namespace's root may search; the templates directory it may not).
            let at = layout.dir.join(IDMAPPED_LOWER);
            std::fs::create_dir_all(&at).map_err(io_err("create directory", &at))?;
        }
        // (the starter is waited for when the launch ends, after init runs)
        let (log, _starter) = self.console(name, &cgroup)?;
        let (env, path_dirs) = init_env(&spec.env);
        // (only a template with host binds can expose it: no path walk for the others)
        let hide = (!prepared.host_binds.is_empty())
            .then(|| std::env::current_exe().ok()?.canonicalize().ok())
            .flatten()
            .filter(|exe| prepared.host_binds.iter().any(|b| exe.starts_with(b)))
            .into_iter()
            .collect();
        // Without network, init brings up its lo itself: a few syscalls, where the host side
        // (`before_init_exec`) spends a thread, an async runtime and a netlink session on it.
        let loopback = spec.network.mode == NetworkMode::None;
        let (seccomp, disk_node) = filter_for(name, spec, &layout)?;
        let plan = InitPlan {
            rootfs: rootfs::Plan {
                target: layout.rootfs.clone(),
                layers: rootfs::Layers {
                    lower: prepared.lower,
                    upper,
                    work,
                },
                host_binds: prepared.host_binds,
                hide,
                lower_mount: lower_mount.as_ref().map(|m| m.as_raw_fd()),
                userxattr: base.is_some(),
                cgroup: rootfs::cgroupfs::host_layout(&cgroup.dirs()),
                init: crate::init::wanted(spec)
                    .then(|| crate::init::install(self.store.root()))
                    .transpose()?,
                init_layer: None,
                devices: devices.into_iter().map(|d| d.path).collect(),
                flat,
                disk_node: disk_node.clone(),
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
            cgroup: cgroup
                .join()
                .ready()
                .map_err(io_err("open the cgroup of", &layout.dir))?,
            new_net: spec.network.mode != NetworkMode::Host,
            loopback,
            userns,
            seccomp,
        };
        let spawn_failed = |message| {
            let _ = cgroup.kill_all(std::time::Duration::from_secs(2));
            Error::Spawn {
                name: name.to_owned(),
                message,
            }
        };
        let Spawned {
            pid,
            quota_listener,
        } = spawn_init(&plan, |pid| match loopback {
            true => Ok(()),
            false => self.before_init_exec(spec, pid).map_err(|e| e.to_string()),
        })
        .map_err(spawn_failed)?;
        if let (Some(listener), Some(device)) = (quota_listener, &disk_node) {
            super::quota_broker::start(&layout, pid, device, listener)
                .map_err(|e| spawn_failed(format!("start the quota broker: {e}")))?;
        }
        crash_point("spawned");
        state.init_pid = Some(pid);
        state.init_start_time = process::start_time(pid);
        state.boot_id = process::boot_id();
        state.started_at_ms = Some(super::exited::now_ms());
        state.restart.stopping = false;
        // Repair finds init from the kernel if a power cut loses this record: no disk flush.
        self.store.write_state_unsynced(name, &state)
    }
}

impl Runtime {
    /// Whether the container's root is its writable layer alone (`rootfs::Plan::flat`): a
    /// `disk.user_quota` container's, made at its first start by seeding the template's tree
    /// into the layer. A container that has run on an overlay cannot switch (what it changed
    /// is only a difference from the template): the plan shows turning quotas on as a
    /// recreate, and the node refuses it here.
    fn flat_root(
        &self,
        name: &str,
        spec: &ContainerSpec,
        upper: &std::path::Path,
        state: &mut State,
    ) -> Result<bool> {
        if state.flat_root || !spec.disk.user_quota {
            return Ok(state.flat_root);
        }
        if state.started_at_ms.is_some() {
            return Err(Error::InvalidSpec {
                name: name.to_owned(),
                message: "disk.user_quota cannot be turned on for a container that has run: \
                          its root is an overlay over the template, and quotas need the whole \
                          root on its own disk; recreate it (fleet plans this as a recreate)"
                    .into(),
            });
        }
        let template =
            crate::template::prepare(&self.store.templates_dir(), &spec.template, &self.sources)?;
        super::seed::seed_template(name, &template.lower, upper, state)?;
        state.flat_root = true;
        self.store.write_state(name, state)?;
        Ok(true)
    }
}

/// Tightens a container's own pieces of the store (made before the 0700 rule, or changed by
/// hand): its directory 0700, or 0710 with the user namespace's group, which must search it to
/// reach the overlay's layers; the disk image and console log 0600.
fn secure_layout(layout: &Layout, userns_base: Option<u32>) -> Result<()> {
    match userns_base {
        Some(base) => {
            nix::unistd::chown(
                &layout.dir,
                Some(nix::unistd::Uid::from_raw(0)),
                Some(nix::unistd::Gid::from_raw(base)),
            )
            .map_err(|e| io_err("chown", &layout.dir)(e.into()))?;
            tighten(&layout.dir, 0o710)?;
        }
        None => tighten(&layout.dir, DIR_MODE)?,
    }
    tighten(&crate::disk::paths::image_path(layout), FILE_MODE)?;
    tighten(&layout.log, FILE_MODE)
}
