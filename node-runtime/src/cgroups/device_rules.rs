//! The device rules both guards are made of: the default list every container's /dev needs,
//! and one rule as a v1 `devices.allow` line writes it. `devices.rs` writes them to the v1
//! controller; `device_program.rs` compiles them into the v2 eBPF program.

use fleet_protocol::devices::check_access;

/// Rules written to `devices.allow` after `a` is written to `devices.deny`.
pub const DEVICE_ALLOW_LIST: &[&str] = &[
    "c 1:3 rwm",   // null
    "c 1:5 rwm",   // zero
    "c 1:7 rwm",   // full
    "c 1:8 rwm",   // random
    "c 1:9 rwm",   // urandom
    "c 5:0 rwm",   // tty
    "c 5:2 rwm",   // ptmx
    "c 136:* rwm", // pts
    "c *:* m",     // mknod may create nodes, but not open them
    "b *:* m",
];

/// One device rule: a type (`c`, `b`, or any), numbers (or any) and some of `rwm`, as a v1
/// `devices.allow` line writes it (`c 1:3 rwm`, `c 136:* rwm`, `b *:* m`, `a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `c` or `b`; `None` for any type.
    pub kind: Option<char>,
    /// Major number; `None` for any.
    pub major: Option<u32>,
    /// Minor number; `None` for any.
    pub minor: Option<u32>,
    /// Some of `rwm`.
    pub access: String,
}

impl Rule {
    /// Parses a `devices.allow` line; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Rule> {
        let mut words = line.split_whitespace();
        let kind = match words.next()? {
            "a" => {
                return Some(Rule {
                    kind: None,
                    major: None,
                    minor: None,
                    access: "rwm".into(),
                });
            }
            "c" => 'c',
            "b" => 'b',
            _ => return None,
        };
        let (major, minor) = words.next()?.split_once(':')?;
        let number = |n: &str| match n {
            "*" => Some(None),
            n => n.parse().ok().map(Some),
        };
        let access = words.next()?.to_owned();
        (check_access(&access).is_none() && words.next().is_none()).then_some(())?;
        Some(Rule {
            kind: Some(kind),
            major: number(major)?,
            minor: number(minor)?,
            access,
        })
    }
}
