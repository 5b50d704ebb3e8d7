//! How a value is written as YAML text: the one quoting rule for the imported spec, used by
//! `map` (each field's value is written as it is mapped) and by `emit` (names, addresses and
//! paths in the lines it writes itself).

/// Words YAML reads as something other than a string.
const KEYWORDS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
];

/// `text` as a YAML scalar: plain when it can only be read back as the same string, else
/// double-quoted (JSON's escapes are YAML's).
pub fn scalar(text: &str) -> String {
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '@' | '+' | '-')
        })
        && !text.ends_with(':')
        && !KEYWORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).expect("a string serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_they_read_back_the_same() {
        assert_eq!(scalar("web.example.com"), "web.example.com");
        assert_eq!(scalar("/vz/private/101"), "/vz/private/101");
        assert_eq!(scalar("2001:db8::5/128"), "\"2001:db8::5/128\"");
        assert_eq!(scalar("101"), "\"101\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a b"), "\"a b\"");
        assert_eq!(scalar("10.0.0.5/32"), "\"10.0.0.5/32\"");
        assert_eq!(scalar("x: y"), "\"x: y\"");
        assert_eq!(scalar("q\"\n"), "\"q\\\"\\n\"");
    }
}
