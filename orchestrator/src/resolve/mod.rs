//! Raw spec documents to the resolved [`Fleet`]: sets expanded, profiles merged, references
//! (templates, profiles, hosts, dependencies) checked, defaults filled in, and the whole fleet
//! checked for duplicates, cycles and pinned containers over capacity.
//!
//! Upstream is `crate::spec` (files to raw documents); downstream everything that plans works on
//! the [`Fleet`] this returns, whose values need no further checking.

pub mod base;
pub mod checks;
pub mod containers;
pub mod definitions;
pub mod depends;
pub mod expand;
pub mod hosts;
pub mod member;
pub mod node_rules;
pub mod profile;
pub mod profiles;
pub mod render;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::model::{Fleet, Host};
use crate::spec::node::Pos;
use crate::spec::raw::{At, RawContainer, RawHost};
use crate::spec::{self, Diagnostic, Diagnostics, Loaded, Sources};

/// A failed load: every problem found, and the files to quote them from.
#[derive(Debug)]
pub struct LoadError {
    /// The files read.
    pub sources: Sources,
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// All problems rendered, one block each.
    pub fn render(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.sources))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.diagnostics.len();
        write!(f, "the spec has {n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for LoadError {}

/// Loads, checks and resolves the spec files named by `paths`.
pub fn load(paths: &[PathBuf]) -> Result<Fleet, LoadError> {
    load_counted(paths).map(|(fleet, _)| fleet)
}

/// How many definitions a load held, for `fleet validate`'s summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Profiles defined in the spec files (built-ins not counted).
    pub profiles: usize,
    /// Tarball templates defined in the spec files (built-ins not counted).
    pub templates: usize,
}

/// [`load`], also counting the spec's own profiles and templates.
pub fn load_counted(paths: &[PathBuf]) -> Result<(Fleet, Counts), LoadError> {
    let mut d = Diagnostics::default();
    let loaded = spec::load_paths(paths, &mut d);
    let counts = Counts {
        profiles: loaded.documents.iter().map(|doc| doc.profiles.len()).sum(),
        templates: loaded.documents.iter().map(|doc| doc.templates.len()).sum(),
    };
    finish(loaded, d).map(|fleet| (fleet, counts))
}

/// Loads, checks and resolves spec text held in memory (the embedded demo, tests).
pub fn load_str(name: &str, text: &str) -> Result<Fleet, LoadError> {
    let mut d = Diagnostics::default();
    let mut loaded = Loaded::default();
    spec::load_text(&mut loaded, name.to_string(), text.to_string(), &mut d);
    finish(loaded, d)
}

/// The built-in profiles' documents.
fn builtins() -> Loaded {
    let mut builtins = Loaded::default();
    let mut builtin_diags = Diagnostics::default();
    for (name, text) in profiles::BUILTIN {
        spec::load_text(
            &mut builtins,
            name.to_string(),
            text.to_string(),
            &mut builtin_diags,
        );
    }
    debug_assert!(builtin_diags.is_empty(), "built-in profiles must be valid");
    builtins
}

fn finish(loaded: Loaded, mut d: Diagnostics) -> Result<Fleet, LoadError> {
    let builtins = builtins();
    let mut loaded = loaded;
    // The first document's list is taken as it is: collecting 100,000 entries into a new list
    // would copy every one of them.
    let mut raws: Vec<RawContainer> = Vec::new();
    for doc in &mut loaded.documents {
        if raws.is_empty() {
            raws = std::mem::take(&mut doc.containers);
        } else {
            raws.append(&mut doc.containers);
        }
    }
    let fleet = resolve(&loaded, raws, &builtins, &mut d);
    match fleet {
        Some(mut fleet) if d.is_empty() => {
            fleet.warnings = d
                .warnings()
                .iter()
                .map(|w| w.render_warning(&loaded.sources))
                .collect();
            Ok(fleet)
        }
        _ => {
            if d.is_empty() {
                d.push(Diagnostic::general("the spec could not be resolved"));
            }
            Err(LoadError {
                sources: loaded.sources,
                diagnostics: d.sorted(),
            })
        }
    }
}

/// Names of things: 1 to 64 of `[A-Za-z0-9._-]`, starting with a letter or digit, no `..`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_name(name: &At<String>, what: &str, d: &mut Diagnostics) -> bool {
    if valid_name(&name.value) {
        return true;
    }
    d.push(
        Diagnostic::at(name.pos, format!("invalid {what} name \"{}\"", name.value)).hint(
            "names are 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'",
        ),
    );
    false
}

/// Collects named entries, reporting a second definition of a name with both places.
fn unique<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    name_of: impl Fn(&'a T) -> Option<&'a At<String>>,
    what: &str,
    d: &mut Diagnostics,
) -> BTreeMap<String, &'a T>
where
    T: 'a,
{
    let mut seen: BTreeMap<String, (&'a T, Pos)> = BTreeMap::new();
    for item in items {
        let Some(name) = name_of(item) else { continue };
        if let Some((_, first)) = seen.get(&name.value) {
            d.push(
                Diagnostic::at(
                    name.pos,
                    format!("{what} \"{}\" is defined twice", name.value),
                )
                .related(*first, "first defined")
                .hint(format!("give each {what} its own name")),
            );
            continue;
        }
        seen.insert(name.value.clone(), (item, name.pos));
    }
    seen.into_iter().map(|(k, (v, _))| (k, v)).collect()
}

fn resolve(
    loaded: &Loaded,
    raws: Vec<RawContainer>,
    builtins: &Loaded,
    d: &mut Diagnostics,
) -> Option<Fleet> {
    let defs = definitions::collect(loaded, builtins, d);
    let resolved_hosts: Vec<Host> = defs
        .hosts
        .values()
        .filter_map(|h| hosts::host(h, d))
        .collect();
    let mut expanded = containers::expand_all(raws, &defs, d);
    depends::link(&mut expanded, d);
    let containers::Expanded {
        mut containers,
        positions,
        demand,
        ..
    } = expanded;
    checks::bridge_subnets(&containers, &positions, d);
    let host_list: Vec<&RawHost> = defs.hosts.values().copied().collect();
    checks::pinned_capacity(&host_list, &demand, d);

    containers.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let fleet = Fleet {
        name: defs.fleet_name?.value.clone(),
        hosts: resolved_hosts,
        containers,
        warnings: Vec::new(),
    };
    if d.is_empty() {
        placement_findings(&fleet, &positions, &defs.hosts, d);
    }
    Some(fleet)
}

/// What only placement can tell (selectors matching no host, containers larger than any host
/// they may go to), located at the entry concerned.
fn placement_findings(
    fleet: &Fleet,
    containers: &HashMap<String, Pos>,
    hosts: &BTreeMap<String, &RawHost>,
    d: &mut Diagnostics,
) {
    use crate::schedule::{DemandDefaults, Subject, validate};
    for finding in validate(fleet, &BTreeMap::new(), &DemandDefaults::default()) {
        let pos = match &finding.subject {
            Subject::Container(name) => containers.get(name).copied(),
            Subject::Host(name) => hosts.get(name).map(|h| h.pos),
        };
        let message = format!("{}: {}", finding.field, finding.message);
        d.push(match pos {
            Some(pos) => Diagnostic::at(pos, message),
            None => Diagnostic::general(message),
        });
    }
}
