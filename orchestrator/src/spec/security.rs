//! The container's `security` mapping: nesting and the system calls allowed or denied on top of
//! the default seccomp filter. Each name is checked against the protocol's x86_64 table (the list
//! `fleet-node` builds its filter from), so a typo fails at validate time with its position; and
//! the host devices granted (`devices`), checked by `fleet_protocol::devices`' rules.

use std::collections::BTreeMap;

use fleet_protocol::devices::{DeviceGrant, canonical_access, check_access, check_path};
use fleet_protocol::security::{RuleProblem, check_name, syscall_names};
use fleet_protocol::{SecuritySpec, SyscallRules};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::fields::{self, Fields};
use super::node::{Node, Pos, Value};
use super::suggest::closest;

/// Decodes `security:`; problems are recorded and the bad parts left out.
pub fn security(node: &Node, d: &mut Diagnostics) -> SecuritySpec {
    let Some(f) = Fields::open(node, "security", &["nesting", "syscalls", "devices"], d) else {
        return SecuritySpec::default();
    };
    SecuritySpec {
        nesting: f
            .get("nesting")
            .and_then(|n| fields::boolean(n, "security.nesting", d))
            .unwrap_or(false),
        syscalls: f
            .get("syscalls")
            .map(|n| syscalls(n, d))
            .unwrap_or_default(),
        devices: f.get("devices").map(|n| devices(n, d)).unwrap_or_default(),
    }
}

/// `devices:`: each item a node's path (`/dev/fuse`, access rwm) or `{path, access}`.
fn devices(node: &Node, d: &mut Diagnostics) -> Vec<DeviceGrant> {
    const FIELD: &str = "security.devices";
    let mut out: Vec<DeviceGrant> = Vec::new();
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    for item in fields::list(node, FIELD, d) {
        let (path, access) = match &item.value {
            Value::Map(_) => {
                let Some(f) = Fields::open(item, FIELD, &["path", "access"], d) else {
                    continue;
                };
                let Some(path) = f.get("path").and_then(|n| fields::text(n, FIELD, d)) else {
                    d.push(
                        Diagnostic::at(item.pos, "a device needs its `path`")
                            .hint("such as {path: /dev/fuse, access: rw}"),
                    );
                    continue;
                };
                let access = f.get("access").and_then(|n| fields::text(n, FIELD, d));
                (path, access)
            }
            _ => match fields::text(item, FIELD, d) {
                Some(path) => (path, None),
                None => continue,
            },
        };
        if let Some(why) = check_path(&path.value) {
            d.push(Diagnostic::at(path.pos, why).hint(
                "name a device node on the host under /dev (/dev/fuse, /dev/net/tun, /dev/kvm)",
            ));
            continue;
        }
        let access = match access {
            Some(a) => match check_access(&a.value) {
                Some(why) => {
                    d.push(Diagnostic::at(a.pos, why).hint("such as rw, or rwm (the default)"));
                    continue;
                }
                None => canonical_access(&a.value),
            },
            None => fleet_protocol::devices::default_access(),
        };
        if let Some(first) = seen.get(&path.value) {
            d.push(
                Diagnostic::at(path.pos, format!("device {} is granted twice", path.value))
                    .related(*first, "first granted here")
                    .hint("keep one entry per device"),
            );
            continue;
        }
        seen.insert(path.value.clone(), path.pos);
        out.push(DeviceGrant {
            path: path.value,
            access,
        });
    }
    out
}

fn syscalls(node: &Node, d: &mut Diagnostics) -> SyscallRules {
    let Some(f) = Fields::open(node, "security.syscalls", &["allow", "deny"], d) else {
        return SyscallRules::default();
    };
    let mut lists: [BTreeMap<String, Pos>; 2] = Default::default();
    for (i, list) in ["allow", "deny"].into_iter().enumerate() {
        let field = format!("security.syscalls.{list}");
        let names = f
            .get(list)
            .map(|n| fields::strings(n, &field, d))
            .unwrap_or_default();
        for name in names {
            match check_name(&name.value, list) {
                None => {
                    lists[i].insert(name.value, name.pos);
                }
                Some(problem @ RuleProblem::Unknown { .. }) => {
                    let hint = match closest(&name.value, syscall_names()) {
                        Some(near) => format!("did you mean \"{near}\"?"),
                        None => "names are x86_64 system call names, as listed in `man 2 syscalls`"
                            .to_owned(),
                    };
                    d.push(Diagnostic::at(name.pos, problem.to_string()).hint(hint));
                }
                Some(problem) => d.push(
                    Diagnostic::at(name.pos, problem.to_string())
                        .hint("the command is started with execve after the filter is installed"),
                ),
            }
        }
    }
    let [allow, deny] = lists;
    for (name, pos) in &deny {
        if let Some(allowed) = allow.get(name) {
            d.push(
                Diagnostic::at(*pos, RuleProblem::Both(name.clone()).to_string())
                    .related(*allowed, "allowed here")
                    .hint("keep the name in one of the two lists"),
            );
        }
    }
    SyscallRules {
        allow: allow.into_keys().collect(),
        deny: deny.into_keys().collect(),
    }
}
