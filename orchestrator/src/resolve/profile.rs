//! One profile's resources without a container, for `fleet capacity --fit NAME`: the spec's own
//! profiles and the built-in ones, each `extends` chain flattened and checked exactly as for a
//! container that names the profile and sets nothing of its own.

use std::path::PathBuf;

use fleet_protocol::Resources;

use super::{LoadError, base, builtins, definitions};
use crate::spec::suggest::closest;
use crate::spec::{self, Diagnostics, Loaded};

/// Why a profile's resources could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The spec files do not load, or the profile's merged values break a rule; rendered with
    /// [`LoadError::render`].
    #[error("{0}")]
    Spec(LoadError),
    /// Neither the spec nor the built-ins define a profile of that name.
    #[error("unknown profile \"{name}\"; {hint}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The closest name, or the names defined.
        hint: String,
    },
}

/// The resources a container of profile `name` gets from the spec files `paths` (none: the
/// built-in profiles alone).
pub fn resources(paths: &[PathBuf], name: &str) -> Result<Resources, ProfileError> {
    let mut d = Diagnostics::default();
    let loaded = if paths.is_empty() {
        Loaded::default()
    } else {
        spec::load_paths(paths, &mut d)
    };
    let builtins = builtins();
    let defs = definitions::collect(&loaded, &builtins, &mut d);
    // Without files there is no fleet to name, which the definitions report; nothing else of
    // the built-ins can be wrong.
    if !paths.is_empty() && !d.is_empty() {
        return Err(ProfileError::Spec(LoadError {
            sources: loaded.sources,
            diagnostics: d.sorted(),
        }));
    }
    let Some(raw) = defs.profiles.get(name) else {
        let names = defs.profiles.keys().map(String::as_str);
        let hint = match closest(name, names.clone()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("defined profiles: {}", names.collect::<Vec<_>>().join(", ")),
        };
        return Err(ProfileError::Unknown {
            name: name.into(),
            hint,
        });
    };
    let mut d = Diagnostics::default();
    let resources = base::checked_resources(raw, &mut d);
    if !d.is_empty() {
        return Err(ProfileError::Spec(LoadError {
            sources: loaded.sources,
            diagnostics: d.sorted(),
        }));
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_file(dir: &std::path::Path, text: &str) -> Vec<PathBuf> {
        let path = dir.join("fleet.yaml");
        std::fs::write(&path, text).unwrap();
        vec![path]
    }

    #[test]
    fn a_spec_profile_extends_a_built_in_one_as_for_a_container() {
        let dir = tempfile::tempdir().unwrap();
        let paths = spec_file(
            dir.path(),
            "apiVersion: fleet/v1\nfleet: f\nprofiles:\n  - name: db\n    extends: medium\n    \
             memory: 16Gi\ncontainers: []\n",
        );
        let r = resources(&paths, "db").unwrap();
        assert_eq!(r.memory, Some(16 << 30));
        // From medium: its cpu limit and disk.
        assert_eq!(r.cpu_limit, Some(100));
        assert_eq!(r.disk_space, Some(10 << 30));
        // The built-ins alone, without files.
        assert_eq!(resources(&[], "large").unwrap().memory, Some(8 << 30));
    }

    #[test]
    fn an_unknown_profile_names_the_closest_and_bad_values_are_located() {
        let e = resources(&[], "smal").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown profile \"smal\"; did you mean \"small\"?"
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = spec_file(
            dir.path(),
            "apiVersion: fleet/v1\nfleet: f\nprofiles:\n  - name: odd\n    memory: 1Gi\n    \
             memory_high: 2Gi\ncontainers: []\n",
        );
        let ProfileError::Spec(e) = resources(&paths, "odd").unwrap_err() else {
            panic!("a spec error")
        };
        let text = e.render();
        assert!(text.contains("fleet.yaml:6:18"), "{text}");
        assert!(
            text.contains("memory_high 2Gi is above memory 1Gi"),
            "{text}"
        );
    }
}
