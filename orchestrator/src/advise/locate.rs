//! Where each container's memory limit is written: the entry's own `resources.memory`, or the
//! profile it comes from. Containers whose limit is the same written value (the members of a
//! set, or the users of a profile) share one [`Place`], so one edit changes them all.

use std::collections::BTreeMap;

use crate::resolve::expand::expand;
use crate::resolve::profiles;
use crate::spec::node::Pos;
use crate::spec::raw::RawProfile;
use crate::spec::{Diagnostics, Loaded};

/// Where a memory value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The value's position in the user's files.
    pub pos: Pos,
    /// What holds it: `container web-{01..20}` or `profile small`.
    pub holder: String,
}

/// Every container name the spec defines, with its entry and where its memory is written
/// (`None` when nothing sets it, or only a built-in profile does).
#[derive(Debug, Default)]
pub struct Located {
    /// Container name to (its entry as written, where its memory is written).
    pub containers: BTreeMap<String, (String, Option<Place>)>,
}

/// Reads the positions out of the raw documents of `loaded` (which must have loaded without
/// errors, so that every pattern expands and every profile exists).
pub fn locate(loaded: &Loaded) -> Located {
    let mut scratch = Diagnostics::default();
    let defined: BTreeMap<String, &RawProfile> = loaded
        .documents
        .iter()
        .flat_map(|doc| doc.profiles.iter())
        .filter_map(|p| Some((p.name.as_ref()?.value.clone(), p)))
        .collect();
    let flat = profiles::flatten(&defined, &mut scratch);
    let mut out = Located::default();
    for raw in loaded
        .documents
        .iter()
        .flat_map(|doc| doc.containers.iter())
    {
        let Some(name) = &raw.name else { continue };
        let place = match (&raw.resources.memory, &raw.profile) {
            (Some(m), _) => Some(Place {
                pos: m.pos,
                holder: format!("container {}", name.value),
            }),
            (None, Some(p)) => flat
                .get(&p.value)
                .and_then(|r| r.memory.as_ref())
                .map(|m| Place {
                    pos: m.pos,
                    holder: format!("profile {}", p.value),
                }),
            (None, None) => None,
        };
        let count = raw.count.as_ref().map(|c| c.value);
        let members = match expand(&name.value, count) {
            Ok(members) => members.into_iter().map(|m| m.name).collect(),
            Err(_) => vec![name.value.clone()],
        };
        for member in members {
            out.containers
                .insert(member, (name.value.clone(), place.clone()));
        }
    }
    out
}
