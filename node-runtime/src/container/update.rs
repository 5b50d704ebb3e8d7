//! update: move a container to a new spec. Resource limits change live (through
//! [`Runtime::apply_resources`]); fields that only take effect in a new init need a restart,
//! which happens only when the caller allows it.

use fleet_protocol::effects::{self, Effect, View};
use fleet_protocol::{ContainerSpec, DesiredState, Features};

use super::Runtime;
use super::create::validate_spec;
use crate::cgroups::CgroupRoot;
use crate::error::{Error, Result};

/// What this host can do that the table of field effects asks about (the same bits the hello
/// reports, so the orchestrator's plan and this update agree).
pub fn host_features(cgroups: &CgroupRoot) -> Features {
    Features {
        online_disk_grow: crate::disk::online_grow_supported(),
        devices_live: crate::cgroups::devices::live_supported(cgroups),
        ..Features::default()
    }
}

/// The fields of a change from `old` to `new` that take at least `effect` on a host with
/// `host`'s features, as `ContainerSpec` names them, each with why when its effect depends on
/// the values or the host (`resources.disk_space (shrink)`).
pub fn fields_needing(
    old: &ContainerSpec,
    new: &ContainerSpec,
    effect: Effect,
    host: &Features,
) -> Vec<String> {
    effects::changes(&View::of(old), &View::of(new), host)
        .filter(|(_, verdict)| verdict.effect >= effect)
        .map(|(rule, verdict)| match verdict.why {
            Some(why) => format!("{} ({why})", rule.key),
            None => rule.key.to_owned(),
        })
        .collect()
}

/// Spec fields that cannot change while init runs on a host with `host`'s features.
pub fn restart_fields(old: &ContainerSpec, new: &ContainerSpec, host: &Features) -> Vec<String> {
    fields_needing(old, new, Effect::Restart, host)
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
            let host = host_features(&self.cgroups);
            let recreate = fields_needing(&found.spec, spec, Effect::Recreate, &host);
            if !recreate.is_empty() {
                return Err(Error::NeedsRecreate {
                    name: spec.name.clone(),
                    fields: recreate.join(", "),
                });
            }
            let needs_restart = restart_fields(&found.spec, spec, &host);
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
                && effects::same_attachment(&found.spec.network, &spec.network)
            {
                crate::network::update_addresses(init as u32, &found.spec.network, &spec.network)
                    .map_err(super::network_error(&spec.name))?;
            }
            // Granted devices change live where the host's guard can (else they restart below),
            // before the config is written, as the addresses are.
            if let Some(init) = found.init
                && found.spec.security.devices != spec.security.devices
                && host.devices_live
            {
                self.update_devices_live(
                    &spec.name,
                    init,
                    &found.spec.security.devices,
                    &spec.security.devices,
                )?;
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
    /// rounding), or `None` when they all match: the table's rows that drift. A value the kernel
    /// does not report (unreadable or absent controller) counts as matching, the same rule the
    /// orchestrator's diff uses, so an unreadable file does not cause a write on every apply.
    fn drifted_limits(&self, spec: &ContainerSpec) -> Option<Vec<&'static str>> {
        let cgroup = self.cgroup(&spec.name);
        if !cgroup.exists() {
            return None;
        }
        let version = crate::limits::CgroupDirs::version(&cgroup);
        let canonical = |r: &mut fleet_protocol::Resources| {
            if let Some(c) = r.cpus.take() {
                r.cpus = Some(crate::limits::cpuset::canonical(&c).unwrap_or(c));
            }
        };
        let mut want = crate::limits::effective(&spec.resources, version, "");
        canonical(&mut want);
        let mut live = self.live_resources(&cgroup);
        canonical(&mut live);
        let seen = effects::observed_resources(&live, &want);
        let (want, seen) = (
            View {
                spec,
                resources: &want,
            },
            View {
                spec,
                resources: &seen,
            },
        );
        let fields: Vec<&'static str> = effects::FIELDS
            .iter()
            .filter(|rule| rule.drifts && (rule.differs)(&seen, &want))
            .map(|rule| rule.name)
            .collect();
        (!fields.is_empty()).then_some(fields)
    }
}
