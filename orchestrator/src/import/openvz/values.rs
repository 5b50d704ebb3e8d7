//! vzctl's value syntax: `barrier:limit` pairs (or one value for both), each a number of the
//! parameter's own unit (4 KiB pages, 1 KiB blocks, bytes, a count) or a number with a
//! binary suffix (`K`, `M`, `G`, `T`, `P`, either case: powers of 1024 bytes, which vzctl turns
//! into the parameter's unit), or `unlimited`. The largest long, 9223372036854775807, and the
//! 32-bit one, 2147483647, mean unlimited too, as vzctl and the old sample configs write them.

/// A quantity's unit in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 4 KiB pages (PHYSPAGES, SWAPPAGES, PRIVVMPAGES, ...).
    Pages,
    /// 1 KiB blocks (DISKSPACE).
    KiBlocks,
    /// Bytes (KMEMSIZE, TCPSNDBUF, IOLIMIT, ...).
    Bytes,
    /// A plain count (NUMPROC, DISKINODES, ...); suffixes are refused.
    Count,
}

impl Unit {
    /// Bytes per unit; `None` for counts.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Unit::Pages => Some(4096),
            Unit::KiBlocks => Some(1024),
            Unit::Bytes => Some(1),
            Unit::Count => None,
        }
    }

    /// The unit as the spec's comments name it.
    pub fn describe(self) -> &'static str {
        match self {
            Unit::Pages => "4 KiB pages",
            Unit::KiBlocks => "1 KiB blocks",
            Unit::Bytes => "bytes",
            Unit::Count => "a count",
        }
    }
}

/// One side of a pair: a number in the parameter's unit, in bytes when the unit has a size,
/// or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// No limit.
    Unlimited,
    /// Bytes (for sized units) or the count.
    Value(u64),
}

impl Amount {
    /// The value, `None` when unlimited.
    pub fn value(self) -> Option<u64> {
        match self {
            Amount::Unlimited => None,
            Amount::Value(v) => Some(v),
        }
    }
}

/// A `barrier:limit` pair. OpenVZ's hard limit is the limit; the barrier is where it starts
/// to refuse or reclaim softly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// Soft limit.
    pub barrier: Amount,
    /// Hard limit.
    pub limit: Amount,
}

const SUFFIXES: &[(char, u32)] = &[('K', 10), ('M', 20), ('G', 30), ('T', 40), ('P', 50)];

/// Reads one amount in `unit`: bytes for sized units (pages and blocks multiplied out), the
/// number for counts.
pub fn amount(text: &str, unit: Unit) -> Result<Amount, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(Amount::Unlimited);
    }
    let bad = || {
        let what = match unit {
            Unit::Count => "a whole number or unlimited".to_string(),
            _ => format!(
                "a whole number of {} or a size with K, M, G, T or P (powers of 1024), or unlimited",
                unit.describe()
            ),
        };
        format!("invalid value {text:?}: expected {what}")
    };
    let (digits, shift) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let up = c.to_ascii_uppercase();
            let shift = SUFFIXES
                .iter()
                .find(|(s, _)| *s == up)
                .map(|(_, sh)| *sh)
                .ok_or_else(bad)?;
            if unit == Unit::Count {
                return Err(format!(
                    "invalid value {text:?}: this parameter is a count and takes no size suffix"
                ));
            }
            (&text[..text.len() - 1], Some(shift))
        }
        _ => (text, None),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    if shift.is_none() && (n == i64::MAX as u64 || n == i32::MAX as u64) {
        return Ok(Amount::Unlimited);
    }
    let too_large = || format!("value {text:?} is too large");
    let bytes = match (shift, unit.bytes()) {
        (Some(shift), _) => n.checked_mul(1u64 << shift).ok_or_else(too_large)?,
        (None, Some(per)) => n.checked_mul(per).ok_or_else(too_large)?,
        (None, None) => n,
    };
    Ok(Amount::Value(bytes))
}

/// Reads `barrier:limit`, or one value standing for both.
pub fn pair(text: &str, unit: Unit) -> Result<Pair, String> {
    match text.split_once(':') {
        Some((b, l)) => Ok(Pair {
            barrier: amount(b, unit)?,
            limit: amount(l, unit)?,
        }),
        None => {
            let v = amount(text, unit)?;
            Ok(Pair {
                barrier: v,
                limit: v,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_blocks_and_suffixes_convert_exactly() {
        let p = pair("0:262144", Unit::Pages).unwrap();
        assert_eq!(p.barrier, Amount::Value(0));
        assert_eq!(p.limit, Amount::Value(1 << 30));
        assert_eq!(
            pair("256M", Unit::Pages).unwrap().limit,
            Amount::Value(256 << 20)
        );
        assert_eq!(
            pair("10g:11G", Unit::KiBlocks).unwrap().limit,
            Amount::Value(11 << 30)
        );
        assert_eq!(
            pair("1048576:1153434", Unit::KiBlocks).unwrap().limit,
            Amount::Value(1_153_434 * 1024)
        );
        assert_eq!(
            pair("200000:220000", Unit::Count).unwrap().limit,
            Amount::Value(220_000)
        );
    }

    #[test]
    fn unlimited_in_its_three_spellings() {
        for text in ["unlimited", "9223372036854775807", "2147483647"] {
            assert_eq!(amount(text, Unit::Pages), Ok(Amount::Unlimited), "{text}");
        }
        let p = pair("0:unlimited", Unit::Pages).unwrap();
        assert_eq!(p.limit, Amount::Unlimited);
    }

    #[test]
    fn bad_values_say_what_would_do() {
        for text in ["", "abc", "12Q", "-5", "1.5G", "99999999999999999999"] {
            assert!(amount(text, Unit::Pages).is_err(), "{text}");
        }
        assert!(amount("5M", Unit::Count).unwrap_err().contains("count"));
        assert!(amount("99999999999999P", Unit::Bytes).is_err());
    }
}
