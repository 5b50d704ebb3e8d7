//! Confinement of what runs inside a container: the spec's `security` field and the system call
//! names it may use. The name table is the one list both sides check against: the orchestrator
//! rejects an unknown name at validate time (with its position), `fleet-node` rejects it when a
//! spec arrives by another road, and builds its seccomp filter from the same numbers.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// What the container's processes may do beyond the default confinement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySpec {
    /// Allow user namespaces, mounts, `setns` and `pivot_root` inside (a container runtime or a
    /// sandboxing tool in the container needs them). Off by default: a new user namespace is
    /// where an attacker regains the capabilities the container was stripped of.
    #[serde(default)]
    pub nesting: bool,
    /// System calls allowed or denied on top of the default seccomp filter.
    #[serde(default)]
    pub syscalls: SyscallRules,
    /// Host device nodes the container may use beyond the default few ([`crate::devices`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<crate::devices::DeviceGrant>,
}

impl SecuritySpec {
    /// Whether this is the default (no field written), so stored configs and the wire stay as
    /// they were for containers that do not set it.
    pub fn is_default(&self) -> bool {
        *self == SecuritySpec::default()
    }
}

/// Changes to the default seccomp filter, by system call name (x86_64 names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyscallRules {
    /// Calls the default filter denies that this container may make (for example
    /// `io_uring_setup`, `io_uring_enter` and `io_uring_register` for a database using io_uring).
    #[serde(default)]
    pub allow: BTreeSet<String>,
    /// Calls denied with EPERM in addition to the default filter.
    #[serde(default)]
    pub deny: BTreeSet<String>,
}

/// System calls `fleet-node` makes after the filter is installed (to exec the command or report
/// that it could not): denying them would leave a container that can never start.
pub const NEEDED_TO_START: &[&str] = &["execve", "exit", "exit_group", "write"];

/// Why `security.nesting` is refused for a privileged container (no user namespace): nested root
/// would be host root, free to mount a fresh, writable cgroup hierarchy and raise its own limits.
pub const NESTING_NEEDS_USERNS: &str = "security.nesting needs a user namespace, which a \
     privileged container has not: nested root would be host root and could mount its own \
     writable cgroups";

/// A problem with a [`SyscallRules`] value, found by [`check_rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleProblem {
    /// The name is no x86_64 system call; `suggestion` is the closest known name, if any.
    Unknown {
        /// The name as written.
        name: String,
        /// Which list it is in (`allow` or `deny`).
        list: &'static str,
    },
    /// The name is in both lists.
    Both(String),
    /// Denying it would stop the container from starting.
    NeededToStart(String),
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleProblem::Unknown { name, list } => {
                write!(f, "unknown system call \"{name}\" in syscalls.{list}")
            }
            RuleProblem::Both(name) => {
                write!(f, "system call \"{name}\" is both allowed and denied")
            }
            RuleProblem::NeededToStart(name) => write!(
                f,
                "system call \"{name}\" cannot be denied: fleet-node needs it to start the command"
            ),
        }
    }
}

/// Checks one name as it appears in `list`: known, and deniable when in `deny`.
pub fn check_name(name: &str, list: &'static str) -> Option<RuleProblem> {
    if syscall_number(name).is_none() {
        return Some(RuleProblem::Unknown {
            name: name.to_owned(),
            list,
        });
    }
    if list == "deny" && NEEDED_TO_START.contains(&name) {
        return Some(RuleProblem::NeededToStart(name.to_owned()));
    }
    None
}

/// Every problem with `rules`, in a stable order.
pub fn check_rules(rules: &SyscallRules) -> Vec<RuleProblem> {
    let mut problems: Vec<RuleProblem> = rules
        .allow
        .iter()
        .filter_map(|n| check_name(n, "allow"))
        .chain(rules.deny.iter().filter_map(|n| check_name(n, "deny")))
        .collect();
    problems.extend(
        rules
            .allow
            .intersection(&rules.deny)
            .map(|n| RuleProblem::Both(n.clone())),
    );
    problems
}

/// The x86_64 system call table as (name, number), sorted by name.
fn table() -> &'static [(&'static str, u32)] {
    static TABLE: OnceLock<Vec<(&'static str, u32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(&'static str, u32)> = include_str!("syscalls_x86_64.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, nr) = l.split_once(' ').expect("table lines are `name number`");
                (name, nr.parse().expect("table numbers are integers"))
            })
            .collect();
        table.sort_unstable();
        table
    })
}

/// The x86_64 number of the system call `name`.
pub fn syscall_number(name: &str) -> Option<u32> {
    let table = table();
    table
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| table[i].1)
}

/// Every known system call name, sorted (for "did you mean" and for documentation).
pub fn syscall_names() -> impl Iterator<Item = &'static str> {
    table().iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_unique_names_and_numbers() {
        let table = table();
        assert!(table.len() > 370, "{} entries", table.len());
        let names: BTreeSet<_> = table.iter().map(|(n, _)| n).collect();
        let numbers: BTreeSet<_> = table.iter().map(|(_, nr)| nr).collect();
        assert_eq!(names.len(), table.len());
        assert_eq!(numbers.len(), table.len());
        assert_eq!(syscall_number("read"), Some(0));
        assert_eq!(syscall_number("keyctl"), Some(250));
        assert_eq!(syscall_number("clone3"), Some(435));
        assert_eq!(syscall_number("file_setattr"), Some(469));
        assert_eq!(syscall_number("nosuchcall"), None);
    }

    #[test]
    fn rules_are_checked() {
        let rules = SyscallRules {
            allow: ["io_uring_setup", "ptrase", "mount"]
                .map(String::from)
                .into(),
            deny: ["mount", "execve", "kexec_load"].map(String::from).into(),
        };
        let problems = check_rules(&rules);
        assert_eq!(
            problems,
            [
                RuleProblem::Unknown {
                    name: "ptrase".into(),
                    list: "allow"
                },
                RuleProblem::NeededToStart("execve".into()),
                RuleProblem::Both("mount".into()),
            ]
        );
        assert!(check_rules(&SyscallRules::default()).is_empty());
    }

    #[test]
    fn default_is_left_out_of_json() {
        assert!(SecuritySpec::default().is_default());
        let back: SecuritySpec = serde_json::from_str("{}").unwrap();
        assert!(back.is_default());
    }
}
