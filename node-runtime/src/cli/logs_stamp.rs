//! `fleet-node logs --timestamps`: a writer that puts a time before every line it passes on.
//!
//! The console log is init's stdout and stderr as the console keeper copied them, with no time
//! recorded per line. What can be said honestly is when a line was read: for what `-f` reads as it
//! arrives that is within one poll of when it was written; for what was already in the log it is
//! only a bound, the log's last write, shown as `<=TIME`.
//!
//! Neighbours: used by `logs` around its output.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::lock::utc_text;

/// Passes bytes through, writing `stamp` and a space at the start of each line when enabled.
pub struct Stamped<W> {
    out: W,
    stamp: Option<String>,
    at_line_start: bool,
}

impl<W: Write> Stamped<W> {
    /// A writer that stamps lines only once [`Stamped::stamp`] is given one.
    pub fn new(out: W) -> Self {
        Stamped {
            out,
            stamp: None,
            at_line_start: true,
        }
    }

    /// The stamp for the lines that start from now on.
    pub fn stamp(&mut self, stamp: String) {
        self.stamp = Some(stamp);
    }
}

impl<W: Write> Write for Stamped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(stamp) = &self.stamp else {
            return self.out.write(buf);
        };
        let mut rest = buf;
        while !rest.is_empty() {
            if self.at_line_start {
                self.out.write_all(stamp.as_bytes())?;
                self.out.write_all(b" ")?;
                self.at_line_start = false;
            }
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.out.write_all(&rest[..=i])?;
                    rest = &rest[i + 1..];
                    self.at_line_start = true;
                }
                None => {
                    self.out.write_all(rest)?;
                    rest = &[];
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn utc_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = utc_text(since.as_secs());
    let whole = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{whole}.{:03}Z", since.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_line_start_is_stamped_across_writes() {
        let mut out = Stamped::new(Vec::new());
        out.write_all(b"before ").unwrap();
        out.stamp("T1".into());
        out.write_all(b"a\nb").unwrap();
        out.stamp("T2".into());
        // The rest of a line begun under T1 keeps it; the next line gets T2.
        out.write_all(b"c\n\nd\n").unwrap();
        assert_eq!(
            String::from_utf8(out.out).unwrap(),
            "before T1 a\nT1 bc\nT2 \nT2 d\n"
        );
    }

    #[test]
    fn millisecond_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_632_401_250);
        assert_eq!(utc_millis(t), "2025-12-01T23:40:01.250Z");
        assert_eq!(utc_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
