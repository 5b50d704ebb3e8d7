//! update: move a container to a new spec. Resource limits change live (through
//! [`Runtime::apply_resources`]); fields that only take effect in a new init need a restart,
//! which happens only when the caller allows it.

use fleet_protocol::{ContainerSpec, DesiredState};

use super::Runtime;
use super::create::validate_spec;
use crate::error::{Error, Result};

/// Spec fields that cannot change while init runs.
pub fn restart_fields(old: &ContainerSpec, new: &ContainerSpec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if old.template != new.template {
        fields.push("template");
    }
    if old.command != new.command {
        fields.push("command");
    }
    if old.env != new.env {
        fields.push("env");
    }
    if old.hostname != new.hostname {
        fields.push("hostname");
    }
    if old.user_namespace != new.user_namespace {
        fields.push("user_namespace");
    }
    if crate::network::needs_restart(&old.network, &new.network) {
        fields.push("network (mode or bridge)");
    }
    if old.resources.disk_inodes != new.resources.disk_inodes {
        fields.push("resources.disk_inodes");
    }
    match (old.resources.disk_space, new.resources.disk_space) {
        (Some(o), Some(n)) if n < o => fields.push("resources.disk_space (shrink)"),
        (Some(o), Some(n)) if n > o && !crate::disk::online_grow_supported() => {
            fields.push("resources.disk_space (grow: ext4 needs CAP_SYS_RESOURCE to grow live)")
        }
        (None, Some(_)) | (Some(_), None) => {
            fields.push("resources.disk_space (add or remove the disk)")
        }
        _ => {}
    }
    fields
}

impl Runtime {
    /// Applies `spec` to an existing container; returns whether anything changed.
    pub fn update(&self, spec: &ContainerSpec, allow_restart: bool) -> Result<bool> {
        validate_spec(spec)?;
        let lock = self.store.lock(&spec.name)?;
        let found = self
            .repair(&spec.name, &lock)?
            .ok_or_else(|| Error::NotFound(spec.name.clone()))?;
        let running = found.init.is_some();
        let mut changed = false;
        if found.spec != *spec {
            let needs_restart = restart_fields(&found.spec, spec);
            if running && !needs_restart.is_empty() && !allow_restart {
                return Err(Error::NeedsRestart {
                    name: spec.name.clone(),
                    fields: needs_restart.join(", "),
                });
            }
            // Addresses and gateway change live, before the config is written so that a failure
            // leaves the old spec and the next update retries; mode or bridge restart below.
            if let Some(init) = found.init
                && found.spec.network != spec.network
                && !crate::network::needs_restart(&found.spec.network, &spec.network)
            {
                crate::network::update_addresses(init as u32, &found.spec.network, &spec.network)
                    .map_err(super::network_error(&spec.name))?;
            }
            // Bad limits are refused before the new spec is stored: nothing changes.
            if found.spec.resources != spec.resources {
                self.check_limits(&self.cgroup(&spec.name), &spec.resources)?;
            }
            self.store.write_config(&spec.name, spec)?;
            if found.spec.resources != spec.resources {
                self.apply_resources(&self.cgroup(&spec.name), &spec.resources)?;
            }
            if running && !needs_restart.is_empty() {
                self.stop_locked(&spec.name, std::time::Duration::from_secs(10), &lock)?;
            }
            changed = true;
        } else if self.drifted_limits(spec).is_some() {
            // The spec is unchanged but someone edited a cgroup file by hand: put the spec's
            // values back, live (the same init keeps running).
            self.apply_resources(&self.cgroup(&spec.name), &spec.resources)?;
            changed = true;
        }
        let running = self
            .repair(&spec.name, &lock)?
            .is_some_and(|f| f.init.is_some());
        match spec.state {
            DesiredState::Running if !running => {
                changed |= self.start_locked(&spec.name, &lock)?;
            }
            DesiredState::Stopped if running => {
                changed |=
                    self.stop_locked(&spec.name, std::time::Duration::from_secs(10), &lock)?;
            }
            _ => {}
        }
        Ok(changed)
    }

    /// The cgroup limits whose live value differs from what `spec` asks (after the kernel's
    /// rounding), or `None` when they all match. A value the kernel does not report (unreadable
    /// or absent controller) counts as matching, the same rule the orchestrator's diff uses, so
    /// an unreadable file does not cause a write on every apply. Disk size and inodes are left
    /// out: they only change through a spec change.
    fn drifted_limits(&self, spec: &ContainerSpec) -> Option<Vec<&'static str>> {
        let cgroup = self.cgroup(&spec.name);
        if !cgroup.exists() {
            return None;
        }
        let version = crate::limits::CgroupDirs::version(&cgroup);
        let want = crate::limits::effective(&spec.resources, version, "");
        let live = self.live_resources(&cgroup);
        fn differs<T: PartialEq>(want: &Option<T>, live: &Option<T>) -> bool {
            live.is_some() && want != live
        }
        let canonical = |c: &Option<String>| {
            c.as_deref()
                .map(|c| crate::limits::cpuset::canonical(c).unwrap_or_else(|_| c.to_owned()))
        };
        let checks = [
            ("cpu.units", differs(&want.cpu_units, &live.cpu_units)),
            ("cpu.limit", differs(&want.cpu_limit, &live.cpu_limit)),
            (
                "cpu.cpus",
                differs(&canonical(&want.cpus), &canonical(&live.cpus)),
            ),
            ("memory", differs(&want.memory, &live.memory)),
            ("swap", differs(&want.swap, &live.swap)),
            ("pids", differs(&want.pids, &live.pids)),
            ("io.weight", differs(&want.io.weight, &live.io.weight)),
            ("io.read_bps", differs(&want.io.read_bps, &live.io.read_bps)),
            (
                "io.write_bps",
                differs(&want.io.write_bps, &live.io.write_bps),
            ),
            (
                "io.read_iops",
                differs(&want.io.read_iops, &live.io.read_iops),
            ),
            (
                "io.write_iops",
                differs(&want.io.write_iops, &live.io.write_iops),
            ),
        ];
        let fields: Vec<&'static str> = checks
            .into_iter()
            .filter_map(|(field, drifted)| drifted.then_some(field))
            .collect();
        (!fields.is_empty()).then_some(fields)
    }
}
