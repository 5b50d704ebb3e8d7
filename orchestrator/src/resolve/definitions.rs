//! The named definitions containers refer to: the fleet's name, hosts, tarball templates and
//! profiles (built-in and the spec's own, flattened), each collected once with duplicates and
//! bad names reported.

use std::collections::BTreeMap;

use crate::spec::raw::{At, RawHost, RawProfile, RawResources, RawTemplate};
use crate::spec::{Diagnostic, Diagnostics, Document, Loaded};

use super::{check_name, profiles, unique};

/// What a spec defines by name, for the containers to refer to.
pub struct Definitions<'a> {
    /// The fleet's name, if one document names it (validly).
    pub fleet_name: Option<&'a At<String>>,
    /// Host entries by name.
    pub hosts: BTreeMap<String, &'a RawHost>,
    /// Tarball templates by name.
    pub templates: BTreeMap<String, &'a RawTemplate>,
    /// Every profile (built-ins and the spec's own) flattened into its resources.
    pub profiles: BTreeMap<String, RawResources>,
}

/// Collects the definitions of `loaded`, with the built-in profiles of `builtins`.
pub fn collect<'a>(
    loaded: &'a Loaded,
    builtins: &'a Loaded,
    d: &mut Diagnostics,
) -> Definitions<'a> {
    let docs = &loaded.documents;
    let fleet_name = fleet_name(docs, d);
    let hosts = unique(
        docs.iter().flat_map(|doc| &doc.hosts),
        |h| h.name.as_ref(),
        "host",
        d,
    );
    let templates = unique(
        docs.iter().flat_map(|doc| &doc.templates),
        |t| t.name.as_ref(),
        "template",
        d,
    );
    for (name, t) in &templates {
        if let Some(n) = &t.name
            && check_name(n, "template", d)
            && matches!(name.as_str(), "host" | "busybox")
        {
            d.push(
                Diagnostic::at(n.pos, format!("\"{name}\" is a built-in template"))
                    .hint("choose another name for a tarball template"),
            );
        }
        check_sha256(t, d);
    }
    let mut all_profiles: BTreeMap<String, &RawProfile> = unique(
        builtins.documents.iter().flat_map(|doc| &doc.profiles),
        |p| p.name.as_ref(),
        "profile",
        &mut Diagnostics::default(),
    );
    let own_profiles = unique(
        docs.iter().flat_map(|doc| &doc.profiles),
        |p| p.name.as_ref(),
        "profile",
        d,
    );
    for p in own_profiles.values() {
        if let Some(n) = &p.name {
            check_name(n, "profile", d);
        }
    }
    all_profiles.extend(own_profiles);
    Definitions {
        fleet_name,
        hosts,
        templates,
        profiles: profiles::flatten(&all_profiles, d),
    }
}

/// The fleet's identity: named at least once, the same everywhere.
fn fleet_name<'a>(docs: &'a [Document], d: &mut Diagnostics) -> Option<&'a At<String>> {
    let mut fleet_name: Option<&At<String>> = None;
    for doc in docs {
        let Some(name) = &doc.fleet else { continue };
        match fleet_name {
            None => {
                if check_name(name, "fleet", d) {
                    fleet_name = Some(name);
                }
            }
            Some(first) if first.value != name.value => d.push(
                Diagnostic::at(
                    name.pos,
                    format!(
                        "fleet \"{}\" differs from fleet \"{}\" named earlier",
                        name.value, first.value
                    ),
                )
                .related(first.pos, "first named")
                .hint("all files of one apply describe one fleet"),
            ),
            Some(_) => {}
        }
    }
    if fleet_name.is_none() && d.is_empty() {
        let hint = "add `fleet: NAME` to one document; the fleet owns the containers it creates";
        d.push(match docs.first() {
            Some(doc) => Diagnostic::at(doc.pos, "no document names the fleet").hint(hint),
            None => Diagnostic::general("the spec holds no fleet documents").hint(hint),
        });
    }
    fleet_name
}

fn check_sha256(t: &RawTemplate, d: &mut Diagnostics) {
    if let Some(sum) = &t.sha256
        && (sum.value.len() != 64 || !sum.value.chars().all(|c| c.is_ascii_hexdigit()))
    {
        d.push(
            Diagnostic::at(sum.pos, "sha256 must be 64 hexadecimal digits")
                .hint("compute it with `sha256sum FILE`"),
        );
    }
}
