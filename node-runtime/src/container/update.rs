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
            self.store.write_config(&spec.name, spec)?;
            if found.spec.resources != spec.resources {
                self.apply_resources(&self.cgroup(&spec.name), &spec.resources)?;
            }
            if running && !needs_restart.is_empty() {
                self.stop_locked(&spec.name, std::time::Duration::from_secs(10), &lock)?;
            }
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
}
