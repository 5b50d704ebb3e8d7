//! The imported containers as a spec file: YAML text written by hand rather than serialized, so
//! that every field carries a comment naming the OpenVZ setting it came from, and every
//! setting without an equivalent is listed under its container.

use std::fmt::Write as _;

use super::map::{Container, Field, Template};
use super::yaml::scalar;

/// The host entry the containers are pinned to.
#[derive(Debug, Clone, Default)]
pub struct HostEntry {
    /// Its name.
    pub name: String,
    /// Its SSH address; `None` writes a local host (this machine, no SSH).
    pub address: Option<String>,
}

/// A flow list of strings: `["/sbin/init"]`.
fn argv(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings serialize")
}

/// Where comments start at the earliest, so that they line up.
const COMMENT_COLUMN: usize = 40;

/// The whole spec.
pub fn spec(fleet: &str, header: &[String], host: &HostEntry, containers: &[Container]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(out, "apiVersion: fleet/v1");
    let _ = writeln!(out, "fleet: {}", scalar(fleet));
    let _ = writeln!(out, "\nhosts:\n  - name: {}", scalar(&host.name));
    match &host.address {
        Some(a) => {
            let _ = writeln!(out, "    address: {}", scalar(a));
        }
        None => {
            let _ = writeln!(
                out,
                "    transport: local   # no --address: this machine, without SSH (give --address to reach the host over SSH)"
            );
        }
    }
    let mut tarballs: Vec<&Template> = Vec::new();
    for c in containers {
        if matches!(c.template, Template::Tarball { .. }) && !tarballs.contains(&&c.template) {
            tarballs.push(&c.template);
        }
    }
    if !tarballs.is_empty() {
        let _ = writeln!(out, "\ntemplates:");
        for t in tarballs {
            if let Template::Tarball { name, path, sha256 } = t {
                let _ = writeln!(
                    out,
                    "  - name: {}\n    tarball: {}\n    sha256: {sha256}",
                    scalar(name),
                    scalar(path)
                );
            }
        }
    }
    let _ = writeln!(out, "\ncontainers:");
    for (i, c) in containers.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        container(&mut out, c);
    }
    out
}

/// One container entry with its comments.
fn container(out: &mut String, c: &Container) {
    let _ = writeln!(out, "  # CTID {} from {}", c.ctid, c.file);
    for note in &c.notes {
        let _ = writeln!(out, "  # {note}");
    }
    let template = match &c.template {
        Template::Builtin(word) => (*word).to_string(),
        Template::Tarball { name, .. } => scalar(name),
    };
    let mut lines: Vec<(String, String)> = vec![
        (format!("  - name: {}", scalar(&c.name)), String::new()),
        (format!("    template: {template}"), String::new()),
        (format!("    command: {}", argv(&c.command)), String::new()),
    ];
    lines.extend(nested(&c.fields));
    let width = lines
        .iter()
        .filter(|(_, note)| !note.is_empty())
        .map(|(text, _)| text.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(COMMENT_COLUMN);
    for (text, note) in lines {
        if note.is_empty() {
            let _ = writeln!(out, "{text}");
        } else {
            let pad = width.saturating_sub(text.chars().count());
            let _ = writeln!(out, "{text}{}# {note}", " ".repeat(pad));
        }
    }
    if !c.unmapped.is_empty() {
        let _ = writeln!(
            out,
            "    # Not imported (no equivalent in Fleet, or invalid):"
        );
        for u in &c.unmapped {
            let _ = writeln!(
                out,
                "    #   {}={}: {}",
                u.key,
                super::map::one_line(&u.value),
                u.why
            );
        }
    }
}

/// The fields as indented YAML lines, a mapping opened for each path prefix the first time it
/// is met (fields arrive grouped, so each mapping is opened once).
fn nested(fields: &[Field]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    for f in fields {
        let parts: Vec<&str> = f.path.split('.').collect();
        let (leaf, parents) = parts.split_last().expect("a path has a part");
        let common = open
            .iter()
            .zip(parents.iter())
            .take_while(|(a, b)| a == b)
            .count();
        open.truncate(common);
        for p in &parents[common..] {
            lines.push((format!("{}{p}:", indent(open.len())), String::new()));
            open.push(p);
        }
        lines.push((
            format!("{}{leaf}: {}", indent(open.len()), f.value),
            f.note.clone(),
        ));
    }
    lines
}

fn indent(depth: usize) -> String {
    " ".repeat(4 + 2 * depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_nest_under_their_mappings() {
        let f = |path, value: &str| Field {
            path,
            value: value.into(),
            note: String::new(),
        };
        let lines: Vec<String> = nested(&[
            f("hostname", "h"),
            f("resources.memory", "1Gi"),
            f("resources.cpu.units", "1000"),
            f("resources.cpu.limit", "50%"),
            f("resources.disk.space", "2Gi"),
            f("network.bridge", "fleet0"),
        ])
        .into_iter()
        .map(|(t, _)| t)
        .collect();
        assert_eq!(
            lines,
            [
                "    hostname: h",
                "    resources:",
                "      memory: 1Gi",
                "      cpu:",
                "        units: 1000",
                "        limit: 50%",
                "      disk:",
                "        space: 2Gi",
                "    network:",
                "      bridge: fleet0",
            ]
        );
    }
}
