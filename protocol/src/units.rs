//! Sizes and percentages as people write them: `512Mi`, `2G`, `1.5Gi`, `150%`.
//!
//! Binary suffixes (`Ki`, `Mi`, `Gi`, `Ti`) are powers of 1024, decimal ones (`k`/`K`, `M`, `G`,
//! `T`) powers of 1000, as in Kubernetes. A bare number is bytes. Times are shown as UTC
//! (`utc_text`).

use std::fmt;

/// Why a quantity did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// What is wrong, phrased to be shown after the offending value.
    pub message: String,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UnitError {}

const SIZE_SUFFIXES: &[(&str, u64)] = &[
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("k", 1_000),
    ("K", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
];

/// Parses a byte size such as `512Mi`, `2G`, `1.5Gi` or `1048576`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let (number, multiplier) = SIZE_SUFFIXES
        .iter()
        .find_map(|(suffix, m)| text.strip_suffix(suffix).map(|n| (n, *m)))
        .unwrap_or((text.strip_suffix('B').unwrap_or(text), 1));
    let bad = || UnitError {
        message: format!(
            "invalid size {text:?}: expected a number with an optional unit, such as 512Mi, 2Gi or 1G \
             (Ki/Mi/Gi/Ti are powers of 1024, K/M/G/T powers of 1000)"
        ),
    };
    let number = number.trim();
    if number.is_empty() || number.starts_with(['-', '+']) {
        return Err(bad());
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier).ok_or_else(|| UnitError {
            message: format!("size {text:?} is too large"),
        });
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    let bytes = value * multiplier as f64;
    if bytes >= u64::MAX as f64 {
        return Err(UnitError {
            message: format!("size {text:?} is too large"),
        });
    }
    Ok(bytes.round() as u64)
}

/// Parses a percentage such as `150%` or `50` into whole percent.
pub fn parse_percent(text: &str) -> Result<u32, UnitError> {
    let text = text.trim();
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    number.parse::<u32>().map_err(|_| UnitError {
        message: format!(
            "invalid percentage {text:?}: expected a whole number of percent of one CPU, such as 50% or 150%"
        ),
    })
}

/// The binary units sizes are shown in, largest first.
pub const BINARY_UNITS: [(&str, u64); 4] = [
    ("Ti", 1 << 40),
    ("Gi", 1 << 30),
    ("Mi", 1 << 20),
    ("Ki", 1 << 10),
];

/// Formats bytes with the largest binary unit that divides them exactly (`512Mi`), so that a
/// rendered spec reads like the one written.
pub fn format_size(bytes: u64) -> String {
    for (suffix, m) in BINARY_UNITS {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{suffix}", bytes / m);
        }
    }
    bytes.to_string()
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`, by Howard Hinnant's days-to-civil rule
/// (no date crate for one timestamp). Both sides show times with it.
pub fn utc_text(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_matches_known_dates() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_text(1_795_651_200 + 3_661), "2026-11-26T01:01:01Z");
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("512Mi", 512 << 20),
            ("2G", 2_000_000_000),
            ("1.5Gi", 3 << 29),
            ("100", 100),
            ("100B", 100),
            ("4Ki", 4096),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in ["", "-1Mi", "Mi", "12Q", "1e400", "99999999999Ti"] {
            assert!(parse_size(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("150%"), Ok(150));
        assert_eq!(parse_percent("50"), Ok(50));
        assert!(parse_percent("x%").is_err());
    }

    #[test]
    fn format_round_trips() {
        for bytes in [512u64 << 20, 3 << 29, 100, 4096, 1 << 40] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
    }
}
