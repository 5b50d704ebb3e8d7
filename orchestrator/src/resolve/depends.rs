//! `depends_on` resolved: each name is a container, or a set's pattern standing for all its
//! members; unknown names, self-dependencies and cycles are reported.

use crate::spec::suggest::Suggester;
use crate::spec::{Diagnostic, Diagnostics};

use super::checks;
use super::containers::Expanded;

/// Fills each container's `depends_on` from what its entry wrote, then checks for cycles.
pub fn link(expanded: &mut Expanded, d: &mut Diagnostics) {
    let Expanded {
        containers,
        positions,
        set_members,
        raw_deps,
        ..
    } = expanded;
    let mut names: Option<Suggester<'_>> = None;
    for (index, dep) in raw_deps.drain(..) {
        if let Some(members) = set_members.get(&dep.value) {
            containers[index].depends_on.extend(members.iter().cloned());
        } else if positions.contains_key(&dep.value) {
            containers[index].depends_on.push(dep.value.clone());
        } else {
            let mut diag = Diagnostic::at(
                dep.pos,
                format!("depends_on names unknown container \"{}\"", dep.value),
            );
            let names =
                names.get_or_insert_with(|| Suggester::new(positions.keys().map(String::as_str)));
            if let Some(s) = names.closest(&dep.value) {
                diag = diag.hint(format!("did you mean \"{s}\"?"));
            }
            d.push(diag);
        }
    }
    for c in containers.iter_mut() {
        c.depends_on.sort();
        c.depends_on.dedup();
        if c.depends_on.contains(&c.spec.name) {
            d.push(Diagnostic::at(
                positions[&c.spec.name],
                format!("container \"{}\" depends on itself", c.spec.name),
            ));
            c.depends_on.retain(|n| n != &c.spec.name);
        }
    }
    let entries: Vec<checks::Entry<'_>> = containers
        .iter()
        .map(|c| checks::Entry {
            name: &c.spec.name,
            pos: positions[&c.spec.name],
            depends_on: &c.depends_on,
        })
        .collect();
    checks::dependency_cycles(&entries, d);
}
