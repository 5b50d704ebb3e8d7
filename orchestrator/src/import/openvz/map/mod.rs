//! One container's settings (its config over vz.conf's defaults) to the spec fields they
//! become, each with the setting it came from for the spec's comments. `resources.rs` maps the
//! limits, `identity.rs` the name, hostname, boot, template, private area and network. Whatever
//! is left when both are done is listed as not imported, with why: nothing is dropped silently.

mod devices;
mod identity;
mod resources;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

use super::params::{self, Fate};
use super::values::{self, Pair, Unit};
use crate::spec::node::Pos;
use crate::spec::suggest::closest;
use crate::spec::{Diagnostic, Diagnostics};

/// One parameter's value as the container sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value, quotes removed and variables expanded.
    pub value: String,
    /// Where the value starts.
    pub pos: Pos,
    /// Where the name starts.
    pub key_pos: Pos,
    /// It is a default from vz.conf, not the container's own.
    pub global: bool,
}

/// What the mapping reads for one container.
#[derive(Debug, Clone)]
pub struct Input {
    /// The container id (the config's file name without `.conf`).
    pub ctid: String,
    /// The config file, as named on the command line.
    pub file: String,
    /// Its parameters over vz.conf's, by name.
    pub settings: BTreeMap<String, Setting>,
}

/// The import's options that shape every container.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--private DIR`: where the containers' private areas are (DIR/CTID).
    pub private: Option<PathBuf>,
    /// `--template-cache DIR`: where OpenVZ's OS template tarballs are.
    pub template_cache: Option<PathBuf>,
    /// The host every container is pinned to.
    pub host: String,
}

/// Where a container's root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// `host` or `busybox`.
    Builtin(&'static str),
    /// A tarball found in the template cache.
    Tarball {
        /// Template name (the OSTEMPLATE, made a valid name).
        name: String,
        /// Path of the tarball.
        path: String,
        /// Its sha256.
        sha256: String,
    },
}

/// One spec field: its place (`resources.cpu.units`), its value as YAML, and the comment that
/// says where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Dotted path from the container entry.
    pub path: &'static str,
    /// The value, ready to write (a YAML scalar or flow list).
    pub value: String,
    /// The setting it came from and how it was converted.
    pub note: String,
}

/// A parameter with no place in the spec, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// Parameter name.
    pub key: String,
    /// Its value as written.
    pub value: String,
    /// What it was and what Fleet does instead.
    pub why: String,
}

/// One imported container.
#[derive(Debug, Clone)]
pub struct Container {
    /// Container id.
    pub ctid: String,
    /// Config file.
    pub file: String,
    /// Name in the spec.
    pub name: String,
    /// Comments above the entry (the description, what the template needs).
    pub notes: Vec<String>,
    /// Root filesystem.
    pub template: Template,
    /// Init's argv.
    pub command: Vec<String>,
    /// Every other field, in the order written.
    pub fields: Vec<Field>,
    /// What was not imported.
    pub unmapped: Vec<Unmapped>,
}

/// Addresses and names already taken by earlier containers of the same import.
#[derive(Debug, Default)]
pub struct Taken {
    /// Container names.
    pub names: HashSet<String>,
    /// Addresses, with the container that has each.
    pub addresses: BTreeMap<IpAddr, String>,
}

/// The state of one container's mapping.
struct Mapper<'a> {
    input: &'a Input,
    options: &'a Options,
    d: &'a mut Diagnostics,
    used: HashSet<&'static str>,
    fields: Vec<Field>,
    notes: Vec<String>,
    unmapped: Vec<Unmapped>,
}

impl<'a> Mapper<'a> {
    /// The setting `key`, marked as handled.
    fn take(&mut self, key: &'static str) -> Option<&'a Setting> {
        self.used.insert(key);
        self.input.settings.get(key)
    }

    /// `key` as a `barrier:limit` pair in `unit`; a bad value is an error and not imported.
    fn pair(&mut self, key: &'static str, unit: Unit) -> Option<(Pair, &'a Setting)> {
        let s = self.take(key)?;
        match values::pair(&s.value, unit) {
            Ok(p) => Some((p, s)),
            Err(e) => {
                self.invalid(
                    key,
                    s,
                    e,
                    format!(
                        "write {key}=\"barrier:limit\" in {}, or unlimited",
                        unit.describe()
                    ),
                );
                None
            }
        }
    }

    /// Records a bad value: a located error, and the parameter listed as not imported.
    fn invalid(&mut self, key: &str, s: &Setting, message: String, hint: String) {
        self.d
            .push(Diagnostic::at(s.pos, format!("{key}: {message}")).hint(hint));
        self.unmapped.push(Unmapped {
            key: key.to_owned(),
            value: s.value.clone(),
            why: format!("not imported: {message}"),
        });
    }

    /// Records a value changed to fit Fleet's range: a located warning saying so.
    fn adjusted(&mut self, key: &str, s: &Setting, message: String) {
        self.d
            .warn(Diagnostic::at(s.pos, format!("{key}: {message}")));
    }

    /// Lists a handled parameter as not imported.
    fn skip(&mut self, key: &str, s: &Setting, why: impl Into<String>) {
        self.unmapped.push(Unmapped {
            key: key.to_owned(),
            value: s.value.clone(),
            why: why.into(),
        });
    }

    fn field(&mut self, path: &'static str, value: impl Into<String>, note: impl Into<String>) {
        self.fields.push(Field {
            path,
            value: value.into(),
            note: note.into(),
        });
    }
}

/// `KEY=value` as the comments show a setting, naming vz.conf for a default.
pub fn shown(key: &str, s: &Setting) -> String {
    let value = one_line(&s.value);
    if s.global {
        format!("{key}={value} (vz.conf)")
    } else {
        format!("{key}={value}")
    }
}

/// Text for a one-line comment: newlines and other control characters escaped.
pub fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            c if c.is_control() => c.escape_default().collect::<Vec<_>>(),
            c => vec![c],
        })
        .collect()
}

/// Maps one container. `taken` holds the names and addresses of the containers before it.
pub fn map(input: &Input, options: &Options, taken: &mut Taken, d: &mut Diagnostics) -> Container {
    let mut m = Mapper {
        input,
        options,
        d,
        used: HashSet::new(),
        fields: Vec::new(),
        notes: Vec::new(),
        unmapped: Vec::new(),
    };
    let name = identity::name(&mut m, taken);
    identity::description(&mut m);
    let (template, command) = identity::template(&mut m);
    identity::hostname(&mut m);
    m.field("host", super::yaml::scalar(&options.host), "");
    identity::boot(&mut m);
    resources::memory(&mut m);
    resources::cpu(&mut m);
    resources::disk(&mut m);
    identity::private_area(&mut m);
    resources::io(&mut m);
    devices::devices(&mut m);
    identity::network(&mut m, &name, taken);
    leftovers(&mut m);
    Container {
        ctid: input.ctid.clone(),
        file: input.file.clone(),
        name,
        notes: m.notes,
        template,
        command,
        fields: m.fields,
        unmapped: m.unmapped,
    }
}

/// Every setting neither module used: listed with what it was, and a warning for a name the
/// import does not know (with a suggestion).
fn leftovers(m: &mut Mapper) {
    for (key, s) in &m.input.settings {
        if m.used.contains(key.as_str()) {
            continue;
        }
        let why = match params::fate(key) {
            Some(Fate::Unmapped(why)) => why.to_owned(),
            Some(Fate::Mapped) => "not imported".to_owned(),
            None => {
                let mut diag = Diagnostic::at(s.key_pos, format!("unknown parameter {key}"));
                diag = match closest(key, params::known()) {
                    Some(near) => diag.hint(format!("did you mean {near}? It is kept as a comment")),
                    None => diag.hint("not an OpenVZ container parameter this import knows; it is kept as a comment"),
                };
                m.d.warn(diag);
                "unknown parameter".to_owned()
            }
        };
        m.unmapped.push(Unmapped {
            key: key.clone(),
            value: s.value.clone(),
            why,
        });
    }
}
