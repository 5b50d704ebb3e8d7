//! The container's `security` mapping: nesting and the system calls allowed or denied on top of
//! the default seccomp filter. Each name is checked against the protocol's x86_64 table (the list
//! `fleet-node` builds its filter from), so a typo fails at validate time with its position.

use std::collections::BTreeMap;

use fleet_protocol::security::{RuleProblem, check_name, syscall_names};
use fleet_protocol::{SecuritySpec, SyscallRules};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::fields::{self, Fields};
use super::node::{Node, Pos};
use super::suggest::closest;

/// Decodes `security:`; problems are recorded and the bad parts left out.
pub fn security(node: &Node, d: &mut Diagnostics) -> SecuritySpec {
    let Some(f) = Fields::open(node, "security", &["nesting", "syscalls"], d) else {
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
    }
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
