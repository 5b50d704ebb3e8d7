//! create: store the spec, make the overlay directories and the cgroup, start init when the spec
//! says running. Idempotent for an identical spec; an existing container with another spec is
//! an error that changes nothing.

use fleet_protocol::{ContainerSpec, DesiredState};

use super::{Runtime, crash_point};
use crate::error::{Error, Result};
use crate::store::{State, validate_name};
use crate::template;

impl Runtime {
    /// Creates (and, when the spec says running, starts) a container. Returns whether anything
    /// changed.
    pub fn create(&self, spec: &ContainerSpec) -> Result<bool> {
        validate_spec(spec)?;
        super::resources::check_user_quota(&spec.name, spec.disk.user_quota)?;
        template::check(&spec.template, &self.sources)?;
        let lock = self.store.lock(&spec.name)?;
        match self.repair(&spec.name, &lock)? {
            Some(found) if found.spec == *spec => {
                if spec.state == DesiredState::Running {
                    return self.start_locked(&spec.name, &lock);
                }
                Ok(false)
            }
            Some(_) => Err(Error::SpecConflict(spec.name.clone())),
            None => {
                template::prepare(&self.store.templates_dir(), &spec.template, &self.sources)?;
                let layout = self.store.layout(&spec.name);
                crate::store::private_dir(&layout.dir)?;
                crash_point("dir");
                // The uid range record and the spec are both written durably (temp file,
                // fsync, rename), and each fsync waits for the disk: they are written side by
                // side, so a create waits for one flush rather than two in a row. Both are in
                // place before anything else is made. A node whose pool is used up refuses the
                // create and keeps nothing of it (the spec is removed with the directory); a
                // crash between the two leaves a spec without a range, which the first start
                // allocates (`prepare_ids`).
                let (range, config) = std::thread::scope(|scope| {
                    let config = scope.spawn(|| self.store.write_config(&spec.name, spec));
                    let range = match spec.privileged {
                        true => Ok(None),
                        false => self.allocate_uid_range(&spec.name).map(Some),
                    };
                    // A panic in the writer is the create's, as it was without the thread.
                    let config = config
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (range, config)
                });
                let state = match range.and_then(|base| config.map(|()| base)) {
                    Ok(userns_base) => State {
                        userns_base,
                        ..State::default()
                    },
                    Err(e) => {
                        let _ = self.remove_everything(&spec.name, None, &lock);
                        return Err(e);
                    }
                };
                crash_point("config");
                self.make_dirs_and_cgroup(&spec.name)?;
                // state.json is written once, by the launch or here; until then repair treats
                // the container as a create to finish.
                if spec.state == DesiredState::Running {
                    if let Err(e) = self.launch(&spec.name, spec, state, true) {
                        // A container that cannot start (a command that does not exist, say)
                        // is rolled back, so a failed create leaves nothing behind.
                        let _ = self.remove_everything(&spec.name, Some(spec), &lock);
                        return Err(e);
                    }
                } else {
                    self.store.write_state(&spec.name, &state)?;
                }
                Ok(true)
            }
        }
    }
}

/// Checks the parts of a spec the node relies on.
pub fn validate_spec(spec: &ContainerSpec) -> Result<()> {
    validate_name(&spec.name)?;
    let bad = |message: String| {
        Err(Error::InvalidSpec {
            name: spec.name.clone(),
            message,
        })
    };
    if spec.command.is_empty() || spec.command[0].is_empty() {
        return bad(
            "command is empty: give init's argv, such as [\"/bin/sleep\", \"infinity\"]".into(),
        );
    }
    if spec
        .command
        .iter()
        .chain(spec.env.keys())
        .chain(spec.env.values())
        .any(|s| s.contains('\0'))
    {
        return bad("command and env must not contain NUL bytes".into());
    }
    if spec.security.nesting && spec.privileged {
        return bad(fleet_protocol::security::NESTING_NEEDS_USERNS.into());
    }
    if let Some(problem) = fleet_protocol::security::check_rules(&spec.security.syscalls).first() {
        return bad(problem.to_string());
    }
    if let Some(problem) = fleet_protocol::devices::check_grants(&spec.security.devices) {
        return bad(problem);
    }
    if spec.env.keys().any(|k| k.is_empty() || k.contains('=')) {
        return bad("env names must be non-empty and must not contain '='".into());
    }
    if spec.hostname.is_empty()
        || spec.hostname.len() > 64
        || !spec
            .hostname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
    {
        return bad(format!(
            "hostname {:?} is not valid: use 1-64 letters, digits, '-' and '.'",
            spec.hostname
        ));
    }
    if let Err(e) =
        fleet_protocol::disk::check_user_quota(spec.resources.disk_space, spec.disk.user_quota)
    {
        return bad(format!("invalid {} {}: {}", e.field, e.value, e.expected));
    }
    if let Err(e) = crate::network::validate(&spec.network) {
        return bad(format!("network: {e}"));
    }
    Ok(())
}
