//! Profiles: named resource sets, built-in (templates/profiles/) or from the spec, possibly
//! extending one another, flattened into the resources they stand for.

use std::collections::BTreeMap;

use crate::spec::raw::{At, RawProfile, RawResources};
use crate::spec::suggest::closest;
use crate::spec::{Diagnostic, Diagnostics};

/// The built-in profile files, compiled in so that they are usable from any spec.
pub const BUILTIN: &[(&str, &str)] = &[(
    "<builtin>/templates/profiles/basic.yaml",
    include_str!("../../../templates/profiles/basic.yaml"),
)];

/// Flattens every profile's `extends` chain; reports unknown parents and cycles.
pub fn flatten(
    profiles: &BTreeMap<String, &RawProfile>,
    d: &mut Diagnostics,
) -> BTreeMap<String, RawResources> {
    let mut out = BTreeMap::new();
    for name in profiles.keys() {
        let mut chain: Vec<&RawProfile> = Vec::new();
        let mut current = profiles[name];
        loop {
            if chain.iter().any(|p| p.name == current.name) {
                if chain[0].name == current.name {
                    let names: Vec<String> = chain
                        .iter()
                        .chain(std::iter::once(&current))
                        .filter_map(|p| p.name.as_ref().map(|n| n.value.clone()))
                        .collect();
                    d.push(Diagnostic::at(
                        chain[0].pos,
                        format!(
                            "profiles extend each other in a cycle: {}",
                            names.join(" -> ")
                        ),
                    ));
                }
                break;
            }
            chain.push(current);
            let Some(parent) = &current.extends else {
                break;
            };
            match profiles.get(&parent.value) {
                Some(p) => current = p,
                None => {
                    if chain.len() == 1 {
                        unknown_profile(parent, profiles, d);
                    }
                    break;
                }
            }
        }
        let mut resources = RawResources::default();
        for p in chain.iter().rev() {
            resources.overlay(&p.resources);
        }
        out.insert(name.clone(), resources);
    }
    out
}

/// Reports a reference to a profile that does not exist.
pub fn unknown_profile<T>(name: &At<String>, profiles: &BTreeMap<String, T>, d: &mut Diagnostics) {
    let mut diag = Diagnostic::at(name.pos, format!("unknown profile \"{}\"", name.value));
    diag = match closest(&name.value, profiles.keys().map(String::as_str)) {
        Some(s) => diag.hint(format!("did you mean \"{s}\"?")),
        None => diag.hint(format!(
            "defined profiles: {}",
            profiles.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
    };
    d.push(diag);
}
