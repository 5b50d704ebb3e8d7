//! `fleet import openvz`: legacy OpenVZ container configs (`/etc/vz/conf/CTID.conf`, with the
//! global `/etc/vz/vz.conf` for defaults) to a Fleet spec.
//!
//! The stages: `parse` reads each file's shell-variable syntax into located assignments;
//! `map` turns one container's settings into spec fields, each with the setting it came from
//! (units converted exactly by `values`, the fate of every known parameter in `params`, each
//! value quoted by `yaml`); `emit` writes the spec as YAML with those comments. The result is checked by loading it as any spec
//! is, so what is printed is what `fleet validate` accepts.
//!
//! Bad input never stops the import: an unreadable file, a broken line, a value out of range or
//! an unknown parameter is a located error or warning, and the rest is imported.

pub mod emit;
pub mod map;
pub mod params;
pub mod parse;
pub mod values;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::spec::{Diagnostic, Diagnostics, Sources};
use map::{Container, Input, Options, Setting, Taken};

/// Where vzctl keeps its global config.
pub const DEFAULT_GLOBAL: &str = "/etc/vz/vz.conf";

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Container configs, in the order given.
    pub configs: Vec<PathBuf>,
    /// vz.conf, whose container parameters are every container's defaults.
    pub global: Option<PathBuf>,
    /// The fleet's name.
    pub fleet: String,
    /// The host entry.
    pub host: emit::HostEntry,
    /// The private area and template cache.
    pub options: Options,
}

/// What an import found and made.
#[derive(Debug)]
pub struct Imported {
    /// The spec, as YAML.
    pub spec: String,
    /// The containers in it.
    pub containers: Vec<Container>,
    /// The files read, to render diagnostics with.
    pub sources: Sources,
    /// Errors and warnings, located.
    pub diagnostics: Diagnostics,
    /// vzctl's own settings found in vz.conf (listed once, never carried over).
    pub vzctl_settings: Vec<String>,
}

/// Imports `request`'s configs.
pub fn import(request: &Request) -> Imported {
    let mut sources = Sources::default();
    let mut d = Diagnostics::default();
    let (defaults, vzctl_settings) = match &request.global {
        Some(path) => global(path, &mut sources, &mut d),
        None => (BTreeMap::new(), Vec::new()),
    };
    let mut taken = Taken::default();
    let mut containers = Vec::new();
    for path in &request.configs {
        let Some(input) = container_input(path, &defaults, &mut sources, &mut d) else {
            continue;
        };
        containers.push(map::map(&input, &request.options, &mut taken, &mut d));
    }
    let mut header = vec![format!(
        "Imported from OpenVZ by `fleet import openvz` (fleet {}).",
        env!("CARGO_PKG_VERSION")
    )];
    header.push(format!(
        "Configs: {}.",
        request
            .configs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(g) = &request.global {
        header.push(format!("Defaults from {}.", g.display()));
    }
    header.push("Each field's comment names the setting it came from; what has no equivalent is listed under its container.".into());
    let spec = emit::spec(&request.fleet, &header, &request.host, &containers);
    Imported {
        spec,
        containers,
        sources,
        diagnostics: d,
        vzctl_settings,
    }
}

/// Reads a file into `sources`; an unreadable or non-text file is an error and `None`.
fn read(path: &Path, sources: &mut Sources, d: &mut Diagnostics) -> Option<u32> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(sources.add(name, text)),
            Err(_) => {
                d.push(Diagnostic::general(format!(
                    "cannot import {name}: it is not text (a vzctl config is ASCII)"
                )));
                None
            }
        },
        Err(e) => {
            d.push(
                Diagnostic::general(format!("cannot read {name}: {e}")).hint(
                    "the other configs are imported; give a readable path to import this one",
                ),
            );
            None
        }
    }
}

/// vz.conf: its container parameters as defaults (with `$VEID` left for each container), and
/// the names of vzctl's own settings.
fn global(
    path: &Path,
    sources: &mut Sources,
    d: &mut Diagnostics,
) -> (BTreeMap<String, Setting>, Vec<String>) {
    let mut defaults = BTreeMap::new();
    let mut vzctl = Vec::new();
    let Some(file) = read(path, sources, d) else {
        return (defaults, vzctl);
    };
    let text = sources.file(file).expect("just added").text.clone();
    let mut vars = HashMap::from([("VEID".to_string(), "$VEID".to_string())]);
    for a in parse::parse(&text, file, &mut vars, d) {
        if params::fate(&a.key).is_some() {
            defaults.insert(
                a.key,
                Setting {
                    value: a.value,
                    pos: a.value_pos,
                    key_pos: a.pos,
                    global: true,
                },
            );
        } else if params::is_vzctl_setting(&a.key) {
            if !vzctl.contains(&a.key) {
                vzctl.push(a.key);
            }
        } else {
            let mut diag = Diagnostic::at(a.pos, format!("unknown parameter {} in vz.conf", a.key));
            if let Some(near) = crate::spec::suggest::closest(&a.key, params::known()) {
                diag = diag.hint(format!("did you mean {near}?"));
            }
            d.warn(diag);
        }
    }
    (defaults, vzctl)
}

/// One container config over the defaults.
fn container_input(
    path: &Path,
    defaults: &BTreeMap<String, Setting>,
    sources: &mut Sources,
    d: &mut Diagnostics,
) -> Option<Input> {
    let file = read(path, sources, d)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let ctid = name.strip_suffix(".conf").unwrap_or(&name).to_string();
    let mut settings: BTreeMap<String, Setting> = defaults
        .iter()
        .map(|(k, s)| {
            let mut s = s.clone();
            s.value = s.value.replace("$VEID", &ctid);
            (k.clone(), s)
        })
        .collect();
    let mut vars: HashMap<String, String> = settings
        .iter()
        .map(|(k, s)| (k.clone(), s.value.clone()))
        .collect();
    vars.insert("VEID".into(), ctid.clone());
    let text = sources.file(file).expect("just added").text.clone();
    let mut seen: HashMap<String, crate::spec::node::Pos> = HashMap::new();
    for a in parse::parse(&text, file, &mut vars, d) {
        if let Some(first) = seen.insert(a.key.clone(), a.pos) {
            d.warn(
                Diagnostic::at(
                    a.pos,
                    format!("{} is set twice; this later value is used", a.key),
                )
                .related(first, "first set"),
            );
        }
        settings.insert(
            a.key,
            Setting {
                value: a.value,
                pos: a.value_pos,
                key_pos: a.pos,
                global: false,
            },
        );
    }
    Some(Input {
        ctid,
        file: path.display().to_string(),
        settings,
    })
}
