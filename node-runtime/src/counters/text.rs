//! The text view, laid out like `/proc/user_beancounters` with the container's name where
//! OpenVZ prints its numeric id. Unlimited prints as OpenVZ's 9223372036854775807; a value the
//! kernel does not keep prints as `-`.

use std::fmt::Write as _;

use super::ContainerCounters;

const UNLIMITED: u64 = i64::MAX as u64;

/// Renders `containers` as a beancounters table.
pub fn render_text(containers: &[ContainerCounters]) -> String {
    let mut out = String::from("Version: 2.5\n");
    let _ = writeln!(
        out,
        "{:>16}  {:<12}{:>20} {:>20} {:>20} {:>20} {:>20}",
        "name", "resource", "held", "maxheld", "barrier", "limit", "failcnt"
    );
    let known = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    let limit = |v: Option<u64>| v.unwrap_or(UNLIMITED).to_string();
    for container in containers {
        for (i, row) in container.counters.iter().enumerate() {
            let name = name_cell(i == 0, &container.name);
            let _ = writeln!(
                out,
                "{:>16}  {:<12}{:>20} {:>20} {:>20} {:>20} {:>20}",
                name,
                row.resource,
                row.held,
                known(row.maxheld),
                limit(row.barrier),
                limit(row.limit),
                known(row.failcnt)
            );
        }
    }
    pressure(containers, &mut out);
    out
}

/// The name column: `name:` on a container's first row, blank on the others.
fn name_cell(first: bool, name: &str) -> String {
    if first {
        format!("{name}:")
    } else {
        String::new()
    }
}

/// PSI below the table (cgroup v2 hosts): stalled share of time in percent over 10, 60 and
/// 300 s, and the total stalled time in µs.
fn pressure(containers: &[ContainerCounters], out: &mut String) {
    if containers.iter().all(|c| c.pressure.is_empty()) {
        return;
    }
    let _ = writeln!(
        out,
        "\nPressure (percent of time stalled; total in µs):\n{:>16}  {:<8}{:<6}{:>8} {:>8} {:>8} {:>16}",
        "name", "resource", "kind", "avg10", "avg60", "avg300", "total"
    );
    let pct = |h: u32| format!("{}.{:02}", h / 100, h % 100);
    for c in containers {
        for (i, p) in c.pressure.iter().enumerate() {
            let stalls = std::iter::once(("some", p.some)).chain(p.full.map(|f| ("full", f)));
            for (j, (kind, s)) in stalls.enumerate() {
                let name = name_cell(i == 0 && j == 0, &c.name);
                let _ = writeln!(
                    out,
                    "{:>16}  {:<8}{:<6}{:>8} {:>8} {:>8} {:>16}",
                    name,
                    if j == 0 { p.resource } else { "" },
                    kind,
                    pct(s.avg10),
                    pct(s.avg60),
                    pct(s.avg300),
                    s.total_us
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Beancounter;

    #[test]
    fn text_view_lines_up_like_user_beancounters() {
        let counters = ContainerCounters {
            name: "web-01".into(),
            counters: vec![
                Beancounter {
                    resource: "memory",
                    held: 1024,
                    maxheld: Some(2048),
                    barrier: None,
                    limit: Some(4096),
                    failcnt: Some(3),
                },
                Beancounter {
                    resource: "diskspace",
                    held: 10,
                    maxheld: None,
                    barrier: Some(100),
                    limit: Some(100),
                    failcnt: None,
                },
            ],
            pressure: Vec::new(),
        };
        let text = render_text(&[counters]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Version: 2.5");
        assert!(lines[2].starts_with("         web-01:  memory"), "{text}");
        assert!(lines[2].contains(" 9223372036854775807 "), "{text}");
        assert!(lines[2].ends_with(" 3"), "{text}");
        assert!(lines[3].trim_start().starts_with("diskspace"), "{text}");
        assert!(lines[3].ends_with(" -"), "{text}");
        assert_eq!(lines[2].len(), lines[3].len());
    }
}
