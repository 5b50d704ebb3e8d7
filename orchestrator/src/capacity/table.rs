//! Plain-text rendering of a capacity [`Report`]: aligned columns, one row per host, then the
//! sections for `--fit`, `--drain`, `--what-if` and `--hosts-needed` when present.
//!
//! Neighbours: `html` renders the same report for a browser; serde gives JSON.

use std::fmt::Write;

use super::{Density, HostDensity, Line, Report};
use crate::schedule::HostsNeeded;

/// Renders the whole report as text.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    density(&mut out, &report.density);
    if let Some(fit) = &report.fit {
        let _ = writeln!(
            out,
            "\nfit {} ({}): {}",
            fit.profile,
            fit.shape.describe(),
            fit.total_text(),
        );
        columns(&mut out, &["HOST", "MORE", "LIMITED BY"], &fit.rows());
    }
    if let Some(d) = &report.drain {
        let _ = writeln!(out, "\ndrain {}: {}", d.host, d.verdict());
        columns(&mut out, &["CONTAINER", "GOES TO", ""], &d.rows());
        out.push_str("\nafter the drain:\n");
        density(&mut out, &d.after);
    }
    if let Some(w) = &report.what_if {
        out.push_str("\nwhat if:\n");
        for (label, list) in w.name_lists() {
            if !list.is_empty() {
                let _ = writeln!(out, "  {label}: {}", list.join(", "));
            }
        }
        for (c, to) in w.added() {
            let _ = writeln!(out, "  + {c} -> {to}");
        }
        for m in &w.moved {
            let _ = writeln!(out, "  ~ {} {} -> {}", m.container, m.from, m.to);
        }
        out.push('\n');
        density(&mut out, &w.density);
    }
    if let Some(n) = &report.hosts_needed {
        hosts_needed(&mut out, n);
    }
    out
}

fn density(out: &mut String, d: &Density) {
    let summary = d.summary(|n| format!(", {n} not placed"));
    let _ = writeln!(out, "fleet {}: {summary}", d.fleet);
    let with_usage = d.hosts.iter().any(|h| h.usage_observed);
    let mut head = vec!["HOST", "CTRS", "CPU", "MEMORY", "DISK"];
    if with_usage {
        head.push("USED (observed)");
    }
    let mut rows: Vec<Vec<String>> = d.hosts.iter().map(|h| host_row(h, with_usage)).collect();
    let known = d.hosts.iter().filter(|h| h.capacity_known).count();
    let label = if known == d.hosts.len() {
        "TOTAL"
    } else {
        "TOTAL (known)"
    };
    let mut total = vec![label.to_string(), d.placed.to_string()];
    if known == 0 {
        // No capacity anywhere: what is allocated, over an honest "?", not 0% of 0.
        total.extend(crate::schedule::Resource::ALL.iter().map(|r| {
            let sum: u64 = d.hosts.iter().map(|h| h.lines[r.index()].allocated).sum();
            format!("{}/?", r.format(sum))
        }));
    } else {
        total.extend(d.totals.iter().map(cell));
    }
    if with_usage {
        total.push(used(&d.totals));
    }
    rows.push(total);
    columns(out, &head, &rows);
    out.push_str("cells: allocated/allocatable (share) +headroom; ? = capacity unknown, * = capacity from the node\n");
    for u in &d.unplaced {
        let _ = writeln!(out, "not placed: {}: {}", u.container, u.reason);
    }
    for w in &d.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
}

fn host_row(h: &HostDensity, with_usage: bool) -> Vec<String> {
    let mark = if !h.capacity_known {
        " ?"
    } else if !h.observed_fields.is_empty() {
        " *"
    } else {
        ""
    };
    let mut row = vec![format!("{}{mark}", h.host), h.containers.to_string()];
    if h.capacity_known {
        row.extend(h.lines.iter().map(cell));
    } else {
        row.extend(
            h.lines
                .iter()
                .map(|l| format!("{}/?", l.resource.format(l.allocated))),
        );
    }
    if with_usage {
        row.push(if h.usage_observed {
            used(&h.lines)
        } else {
            "unreachable".into()
        });
    }
    row
}

fn cell(l: &Line) -> String {
    let r = l.resource;
    format!(
        "{}/{} ({:.0}%) +{}",
        r.format(l.allocated),
        r.format(l.allocatable),
        l.utilisation() * 100.0,
        r.format(l.headroom)
    )
}

fn used(lines: &[Line; 3]) -> String {
    lines
        .iter()
        .map(|l| l.used.map_or("-".into(), |u| l.resource.format(u)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn hosts_needed(out: &mut String, n: &HostsNeeded) {
    let _ = writeln!(
        out,
        "\nhosts needed (each {}): at least {} ({} binds: {} in all)",
        n.allocatable_per_host.describe(),
        n.lower_bound,
        n.binding,
        n.binding.format(n.total_demand.get(n.binding)),
    );
    match n.achieved {
        Some(k) => {
            let _ = writeln!(out, "  placement achieves {k}");
        }
        None => {
            let _ = writeln!(
                out,
                "  no number suffices: {} container(s) larger than one host: {}",
                n.too_large.len(),
                n.too_large.join(", ")
            );
        }
    }
}

/// Writes rows under a header, each column as wide as its widest cell.
fn columns(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(head.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
