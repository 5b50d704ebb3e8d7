//! Container sets: `web-{01..50}` (a zero-padded range) or `name: worker-{index}` with `count`,
//! expanded into members, and the `{name}` / `{index}` substitutions in per-member fields.

/// One member of a set (or the single container of a plain entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name.
    pub name: String,
    /// Its number in the set (0 for a plain container).
    pub index: u64,
}

/// Why a name pattern did not expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub hint: &'static str,
}

const RANGE_HINT: &str =
    "write a range such as web-{01..50}, or `name: worker-{index}` with `count: 5`";

/// Largest set one entry may expand to.
pub const MAX_SET: u64 = 100_000;

/// Expands a name pattern; `count` goes with `{index}`.
pub fn expand(pattern: &str, count: Option<u32>) -> Result<Vec<Member>, PatternError> {
    let err = |message: String| PatternError {
        message,
        hint: RANGE_HINT,
    };
    if let Some(count) = count {
        if !pattern.contains("{index}") {
            return Err(err(format!(
                "\"{pattern}\" has a count but no {{index}} to number its members"
            )));
        }
        return Ok((1..=u64::from(count))
            .map(|i| Member {
                name: pattern.replace("{index}", &i.to_string()),
                index: i,
            })
            .collect());
    }
    if pattern.contains("{index}") {
        return Err(err(format!(
            "\"{pattern}\" uses {{index}} but the entry has no count"
        )));
    }
    let Some(open) = pattern.find('{') else {
        return Ok(vec![Member {
            name: pattern.to_string(),
            index: 0,
        }]);
    };
    let close = pattern[open..]
        .find('}')
        .map(|c| c + open)
        .ok_or_else(|| err(format!("unclosed \"{{\" in \"{pattern}\"")))?;
    let (prefix, range, suffix) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    if suffix.contains('{') {
        return Err(err(format!("\"{pattern}\" has more than one range")));
    }
    let (from, to) = range
        .split_once("..")
        .ok_or_else(|| err(format!("\"{{{range}}}\" is not a range")))?;
    let (a, b) = match (from.parse::<u64>(), to.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => (a, b),
        _ => {
            return Err(err(format!(
                "\"{{{range}}}\" is not a range of whole numbers from low to high"
            )));
        }
    };
    if b - a + 1 > MAX_SET {
        return Err(err(format!(
            "\"{pattern}\" expands to {} containers; one entry may make at most {MAX_SET}",
            b - a + 1
        )));
    }
    let width = if from.starts_with('0') { from.len() } else { 0 };
    Ok((a..=b)
        .map(|i| Member {
            name: format!("{prefix}{i:0width$}{suffix}"),
            index: i,
        })
        .collect())
}

/// Replaces `{name}` and `{index}` in a per-member value.
pub fn substitute(text: &str, member: &Member) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    text.replace("{name}", &member.name)
        .replace("{index}", &member.index.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str, count: Option<u32>) -> Vec<String> {
        expand(p, count)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect()
    }

    #[test]
    fn ranges_and_counts() {
        assert_eq!(names("web-{01..03}", None), ["web-01", "web-02", "web-03"]);
        assert_eq!(names("db", None), ["db"]);
        assert_eq!(names("w{8..10}x", None), ["w8x", "w9x", "w10x"]);
        assert_eq!(names("worker-{index}", Some(2)), ["worker-1", "worker-2"]);
        for (bad, count) in [
            ("web-{3..1}", None),
            ("web-{a..b}", None),
            ("web-{1..2", None),
            ("a{1..2}{1..2}", None),
            ("w", Some(3)),
            ("w{index}", None),
            ("w{1..200000}", None),
        ] {
            assert!(expand(bad, count).is_err(), "{bad}");
        }
    }

    #[test]
    fn substitutions() {
        let m = Member {
            name: "web-07".into(),
            index: 7,
        };
        assert_eq!(substitute("{name}.example", &m), "web-07.example");
        assert_eq!(substitute("10.0.0.{index}/24", &m), "10.0.0.7/24");
    }
}
