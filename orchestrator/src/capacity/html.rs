//! A self-contained HTML capacity report: inline SVG stacked bars per host for each resource
//! (one segment per placement group, headroom in grey, raw capacity marked where overcommit
//! lifts the limit above it) and fleet-wide utilisation. No scripts, no network fetches: the
//! file opens anywhere, and hovering a segment shows its figures through SVG titles.
//!
//! Neighbours: renders the same [`Report`] as `table`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Density, Line, Report};
use crate::schedule::Resource;

/// Bars of the largest host are this wide, in pixels.
const BAR: f64 = 640.0;
/// Left margin for host names.
const LABEL: f64 = 170.0;
/// Row height.
const ROW: f64 = 18.0;
/// Groups beyond this many per chart share one "other" colour.
const COLOURED_GROUPS: usize = 12;
const PALETTE: [&str; COLOURED_GROUPS] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bcb6", "#d37295", "#a0cbe8",
];
const OTHER: &str = "#8c8c8c";

/// Renders the whole report as one HTML document.
pub fn render(report: &Report) -> String {
    let d = &report.density;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>fleet {name}: capacity</title><style>{CSS}</style></head><body>\n\
         <h1>Fleet <code>{name}</code>: capacity</h1>\n",
        name = esc(&d.fleet)
    );
    summary(&mut out, d);
    let colours = colours(d);
    legend(&mut out, &colours);
    for r in Resource::ALL {
        let _ = writeln!(out, "<h2>{} per host</h2>", title(r));
        host_bars(&mut out, d, r, &colours);
    }
    problems(&mut out, d);
    if let Some(fit) = &report.fit {
        let _ = writeln!(
            out,
            "<h2>Room for more <code>{}</code> ({})</h2><p>{} more fit in all.</p>",
            esc(&fit.profile),
            esc(&fit.shape.describe()),
            fit.total
        );
        table(&mut out, &["host", "more", "limited by"], &fit.rows());
    }
    if let Some(dr) = &report.drain {
        let verdict = if dr.fits {
            "its containers fit on the other hosts"
        } else {
            "its containers do <strong>not</strong> all fit on the other hosts"
        };
        let _ = writeln!(
            out,
            "<h2>Drain <code>{}</code></h2><p>{verdict}.</p>",
            esc(&dr.host)
        );
        table(&mut out, &["container", "goes to", ""], &dr.rows());
        out.push_str("<h3>After the drain</h3>\n");
        summary(&mut out, &dr.after);
        for r in Resource::ALL {
            let _ = writeln!(out, "<h4>{}</h4>", title(r));
            host_bars(&mut out, &dr.after, r, &colours);
        }
    }
    if let Some(w) = &report.what_if {
        out.push_str("<h2>What if</h2>\n<ul>\n");
        for (label, list) in [
            ("hosts added", &w.hosts_added),
            ("hosts removed", &w.hosts_removed),
            ("containers removed", &w.containers_removed),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "<li>{label}: {}</li>", esc(&list.join(", ")));
            }
        }
        for (c, to) in &w.containers_added {
            let _ = writeln!(
                out,
                "<li>new {} &rarr; {}</li>",
                esc(c),
                esc(to.as_deref().unwrap_or("nowhere (no room)"))
            );
        }
        for m in &w.moved {
            let _ = writeln!(
                out,
                "<li>moves {}: {} &rarr; {}</li>",
                esc(&m.container),
                esc(&m.from),
                esc(&m.to)
            );
        }
        out.push_str("</ul>\n");
        summary(&mut out, &w.density);
        for r in Resource::ALL {
            let _ = writeln!(out, "<h4>{}</h4>", title(r));
            host_bars(&mut out, &w.density, r, &colours);
        }
    }
    if let Some(n) = &report.hosts_needed {
        let _ = writeln!(
            out,
            "<h2>Hosts needed</h2><p>Each host holds {}. At least <strong>{}</strong> hosts \
             ({} binds); placement achieves <strong>{}</strong>.</p>",
            esc(&n.allocatable_per_host.describe()),
            n.lower_bound,
            n.binding,
            n.achieved.map_or_else(
                || "none: some containers exceed one host".into(),
                |k| k.to_string()
            )
        );
    }
    out.push_str("</body></html>\n");
    out
}

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}th{background:#f6f6f6}\
.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;\
height:.9em;margin-right:.3em;vertical-align:middle}.warn{color:#a15c00}.bad{color:#b00020}\
svg text{font:12px system-ui,sans-serif}";

fn title(r: Resource) -> &'static str {
    match r {
        Resource::Cpu => "CPU",
        Resource::Memory => "Memory",
        Resource::Disk => "Disk",
    }
}

/// Fleet-wide utilisation: one bar per resource, allocated against allocatable.
fn summary(out: &mut String, d: &Density) {
    let _ = writeln!(
        out,
        "<p>{} hosts, {} in use, {} containers placed{}.</p>",
        d.hosts.len(),
        d.hosts_used,
        d.placed,
        if d.unplaced.is_empty() {
            String::new()
        } else {
            format!(
                ", <span class=\"bad\">{} not placed</span>",
                d.unplaced.len()
            )
        }
    );
    let height = ROW * 3.0 + 8.0;
    let _ = writeln!(
        out,
        "<svg role=\"img\" aria-label=\"fleet utilisation\" width=\"{}\" height=\"{height}\">",
        LABEL + BAR + 160.0
    );
    for (i, l) in d.totals.iter().enumerate() {
        let y = i as f64 * ROW + 4.0;
        let share = l.utilisation().min(1.0);
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{ty}\">{name}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{BAR}\" height=\"{h}\" fill=\"#e6e6e6\"/>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{fill}\">\
             <title>{tip}</title></rect>\
             <text x=\"{tx}\" y=\"{ty}\">{pct:.0}% of {all}</text>",
            ty = y + ROW - 6.0,
            name = title(l.resource),
            h = ROW - 4.0,
            w = share * BAR,
            fill = if l.utilisation() > 0.9 {
                "#e15759"
            } else {
                "#4e79a7"
            },
            tip = esc(&line_tip(l)),
            tx = LABEL + BAR + 8.0,
            pct = l.utilisation() * 100.0,
            all = esc(&l.resource.format(l.allocatable)),
        );
    }
    out.push_str("</svg>\n");
}

fn line_tip(l: &Line) -> String {
    let r = l.resource;
    let mut tip = format!(
        "{} allocated of {} allocatable ({} raw capacity), {} headroom",
        r.format(l.allocated),
        r.format(l.allocatable),
        r.format(l.capacity),
        r.format(l.headroom)
    );
    if let Some(u) = l.used {
        let _ = write!(tip, ", {} in use (observed)", r.format(u));
    }
    tip
}

/// Stable colours: the groups holding most across the fleet get the palette, in that order.
fn colours(d: &Density) -> BTreeMap<String, &'static str> {
    let mut weight: BTreeMap<&str, f64> = BTreeMap::new();
    for h in &d.hosts {
        for (g, a) in &h.by_group {
            *weight.entry(g).or_default() += Resource::ALL
                .iter()
                .map(|r| a.get(*r) as f64 / d.totals[r.index()].allocatable.max(1) as f64)
                .sum::<f64>();
        }
    }
    let mut ranked: Vec<(&str, f64)> = weight.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .enumerate()
        .map(|(i, (g, _))| (g.to_string(), PALETTE.get(i).copied().unwrap_or(OTHER)))
        .collect()
}

fn legend(out: &mut String, colours: &BTreeMap<String, &'static str>) {
    let mut shown: Vec<(&String, &&str)> = colours.iter().filter(|(_, c)| **c != OTHER).collect();
    shown.sort_by_key(|(_, c)| PALETTE.iter().position(|p| p == *c));
    out.push_str("<p class=\"legend\">");
    for (g, c) in shown {
        let _ = write!(
            out,
            "<span><i class=\"sw\" style=\"background:{c}\"></i>{}</span>",
            esc(g)
        );
    }
    if colours.values().any(|c| *c == OTHER) {
        let _ = write!(
            out,
            "<span><i class=\"sw\" style=\"background:{OTHER}\"></i>other groups</span>"
        );
    }
    out.push_str(
        "<span><i class=\"sw\" style=\"background:#e6e6e6\"></i>headroom</span>\
                  <span>&#9474; raw capacity (below it: no overcommit used)</span></p>\n",
    );
}

/// One stacked bar per host for resource `r`, all on the scale of the largest host.
fn host_bars(out: &mut String, d: &Density, r: Resource, colours: &BTreeMap<String, &'static str>) {
    let i = r.index();
    let scale_max = d
        .hosts
        .iter()
        .map(|h| h.lines[i].allocatable.max(h.lines[i].allocated))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let px = |v: u64| v as f64 / scale_max * BAR;
    let height = ROW * d.hosts.len() as f64 + 4.0;
    let _ = writeln!(
        out,
        "<svg role=\"img\" aria-label=\"{} per host\" width=\"{}\" height=\"{height}\">",
        title(r),
        LABEL + BAR + 200.0
    );
    for (row, h) in d.hosts.iter().enumerate() {
        let y = row as f64 * ROW + 2.0;
        let l = &h.lines[i];
        let bh = ROW - 4.0;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{ty}\">{name}{mark}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"#e6e6e6\">\
             <title>{tip}</title></rect>",
            ty = y + ROW - 6.0,
            name = esc(&h.host),
            mark = if h.capacity_known {
                ""
            } else {
                " (capacity unknown)"
            },
            w = px(l.allocatable),
            tip = esc(&format!("{}: {}", h.host, line_tip(l))),
        );
        let mut x = LABEL;
        for (g, a) in &h.by_group {
            let w = px(a.get(r));
            if w <= 0.0 {
                continue;
            }
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"{c}\">\
                 <title>{tip}</title></rect>",
                c = colours.get(g).copied().unwrap_or(OTHER),
                tip = esc(&format!("{} on {}: {}", g, h.host, r.format(a.get(r)))),
            );
            x += w;
        }
        if l.capacity < l.allocatable {
            let cx = LABEL + px(l.capacity);
            let _ = write!(
                out,
                "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{y}\" y2=\"{y2}\" stroke=\"#222\" \
                 stroke-dasharray=\"2,2\"/>",
                y2 = y + bh
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{tx}\" y=\"{ty}\">{pct:.0}% of {all}{used}</text>",
            tx = LABEL + BAR + 8.0,
            ty = y + ROW - 6.0,
            pct = l.utilisation() * 100.0,
            all = esc(&r.format(l.allocatable)),
            used = l
                .used
                .map_or(String::new(), |u| format!(", {} in use", esc(&r.format(u)))),
        );
    }
    out.push_str("</svg>\n");
}

fn problems(out: &mut String, d: &Density) {
    if !d.unplaced.is_empty() {
        out.push_str("<h2 class=\"bad\">Not placed</h2>\n<ul>\n");
        for u in &d.unplaced {
            let _ = writeln!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&u.container),
                esc(&u.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    if !d.warnings.is_empty() {
        out.push_str("<h2 class=\"warn\">Warnings</h2>\n<ul>\n");
        for w in &d.warnings {
            let _ = writeln!(out, "<li>{}</li>", esc(w));
        }
        out.push_str("</ul>\n");
    }
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}
