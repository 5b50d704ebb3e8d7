//! The pool the node takes container uid/gid ranges from, and the host ids it must stay clear
//! of: ranges delegated in /etc/subuid and /etc/subgid (rootless podman, newuidmap) and the ids
//! of local users and groups.

use std::fmt;
use std::str::FromStr;

/// Ids in each container's range: container ids 0..=65535 (the protocol's, which the hello's
/// ranges and the plan's check of a live move use too).
pub use fleet_protocol::uid_ranges::RANGE_SIZE;

/// Host ids `start..start + len` that no container range may overlap.
pub use fleet_protocol::uid_ranges::IdSpan as Span;

/// The default pool: above the ids distributions give people (useradd stops at 60000, nobody is
/// 65534), below 2^31 (tools that keep a uid in a signed 32-bit int).
pub const DEFAULT_POOL: Pool = Pool {
    start: 100_000,
    end: 1 << 31,
};

/// Host ids `start..end` (end exclusive) the node may hand out, in ranges of [`RANGE_SIZE`]
/// starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// First host id of the first range.
    pub start: u32,
    /// One past the last host id any range may use.
    pub end: u32,
}

impl Pool {
    /// How many ranges fit.
    pub fn capacity(&self) -> u32 {
        (self.end - self.start) / RANGE_SIZE
    }

    /// Base of the `i`th range of the pool.
    pub fn base(&self, i: u32) -> u32 {
        self.start + i * RANGE_SIZE
    }

    /// Base of the range a container named `name` tries first
    /// ([`fleet_protocol::uid_ranges::preferred_slot`]).
    pub fn preferred(&self, name: &str) -> u32 {
        self.base(fleet_protocol::uid_ranges::preferred_slot(
            name,
            self.capacity(),
        ))
    }

    /// Whether `span` shares an id with the pool.
    pub fn overlaps(&self, span: &Span) -> bool {
        span.start < u64::from(self.end)
            && u64::from(self.start) < span.start.saturating_add(span.len)
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for Pool {
    type Err = String;

    /// `START-END`, host ids, END exclusive: `100000-2147483648`.
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "expected START-END in host ids, such as 100000-2147483648";
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("uid pool {s:?}: {usage}"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("uid pool {s:?}: {v:?} is not a number; {usage}"))
        };
        let (start, end) = (parse(a)?, parse(b)?);
        if start < u64::from(RANGE_SIZE) {
            return Err(format!(
                "uid pool {s:?} starts below {RANGE_SIZE}: ids 0-65535 are the host's own users; {usage}"
            ));
        }
        // u32::MAX is (uid_t)-1, "no id"; 4294967294 is the kernel's overflow id on some systems.
        if end > u64::from(u32::MAX - 1) {
            return Err(format!(
                "uid pool {s:?} ends above 4294967294 (the largest usable id); {usage}"
            ));
        }
        if end < start + u64::from(RANGE_SIZE) {
            return Err(format!(
                "uid pool {s:?} holds no range of {RANGE_SIZE} ids; {usage}"
            ));
        }
        Ok(Pool {
            start: start as u32,
            end: end as u32,
        })
    }
}

/// Ranges in /etc/subuid or /etc/subgid text (`name:start:count` per line, `#` comments).
pub fn subid_spans(text: &str) -> Vec<Span> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let _owner = f.next()?;
            let start = f.next()?.trim().parse().ok()?;
            let len = f.next()?.trim().parse().ok()?;
            Some(Span { start, len })
        })
        .collect()
}

/// Ids of /etc/passwd or /etc/group text (third field), one span each.
pub fn account_spans(text: &str) -> Vec<Span> {
    text.lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .map(|id| Span { start: id, len: 1 })
        .collect()
}

/// Everything the host itself uses above the system ids: delegated sub-id ranges and local
/// accounts, read from /etc (files that do not exist count as empty). Ids handed out by NSS
/// sources such as LDAP are not visible here; give such a host a `--uid-pool` clear of them.
pub fn host_reserved() -> Vec<Span> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mut spans = subid_spans(&read("/etc/subuid"));
    spans.extend(subid_spans(&read("/etc/subgid")));
    spans.extend(account_spans(&read("/etc/passwd")));
    spans.extend(account_spans(&read("/etc/group")));
    spans.retain(|s| s.start.saturating_add(s.len) > u64::from(RANGE_SIZE));
    spans.sort();
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_and_bad_ones_say_what_is_valid() {
        assert_eq!("100000-2147483648".parse::<Pool>(), Ok(DEFAULT_POOL));
        assert_eq!(DEFAULT_POOL.capacity(), 32766);
        assert_eq!(DEFAULT_POOL.base(1), 165_536);
        for (bad, says) in [
            ("100000", "expected START-END"),
            ("0-200000", "starts below 65536"),
            ("100000-100001", "holds no range"),
            ("100000-4294967295", "ends above"),
            ("x-200000", "is not a number"),
        ] {
            let err = bad.parse::<Pool>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn sub_ids_and_accounts_are_read() {
        let subuid = "# delegated\nalice:100000:65536\nbob:165536:65536\nbroken line\n";
        assert_eq!(
            subid_spans(subuid),
            [
                Span {
                    start: 100_000,
                    len: 65536
                },
                Span {
                    start: 165_536,
                    len: 65536
                }
            ]
        );
        let passwd = "root:x:0:0:root:/root:/bin/bash\nldap:x:200000:200000::/:/bin/false\n";
        assert_eq!(
            account_spans(passwd),
            [
                Span { start: 0, len: 1 },
                Span {
                    start: 200_000,
                    len: 1
                }
            ]
        );
    }

    #[test]
    fn overlap_is_exact_at_the_edges() {
        let s = Span {
            start: 165_536,
            len: 10,
        };
        assert!(!s.overlaps(100_000), "ends right before");
        assert!(s.overlaps(165_536));
        assert!(s.overlaps(100_001));
        assert!(!s.overlaps(165_546));
    }
}
