//! A self-contained HTML capacity report: per resource a summary card for the fleet and one
//! stacked bar per host (one segment per placement group, headroom in grey, raw capacity marked
//! where overcommit lifts the limit above it), every figure written on the page beside its bar,
//! and a table of what each group holds on each host. The layout is CSS grid and percentages, so
//! it fills the window; a host whose capacity is known neither from the spec nor from its node
//! says "capacity unknown" instead of a share of nothing. No scripts, no network fetches: the
//! file opens anywhere.
//!
//! Neighbours: renders the same [`Report`] as `table`; `bars` draws the cards and host rows.

mod bars;

use std::fmt::Write;

use super::{Density, Report};
use crate::schedule::Resource;

/// Renders the whole report as one HTML document.
pub fn render(report: &Report) -> String {
    let d = &report.density;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>fleet {name}: capacity</title><style>{CSS}</style></head><body>\n\
         <h1>Fleet <code>{name}</code>: capacity</h1>\n",
        name = esc(&d.fleet)
    );
    let colours = bars::colours(d);
    bars::legend(&mut out, &colours);
    density(&mut out, d, &colours, "h2");
    if let Some(fit) = &report.fit {
        let _ = writeln!(
            out,
            "<h2>Room for more <code>{}</code> ({})</h2><p>{}.</p>",
            esc(&fit.profile),
            esc(&fit.shape.describe()),
            esc(&fit.total_text())
        );
        table(&mut out, &["host", "more", "limited by"], &fit.rows());
    }
    if let Some(dr) = &report.drain {
        let _ = writeln!(
            out,
            "<h2>Drain <code>{}</code></h2><p>{}.</p>",
            esc(&dr.host),
            esc(dr.verdict())
        );
        table(&mut out, &["container", "goes to", ""], &dr.rows());
        out.push_str("<h3>After the drain</h3>\n");
        density(&mut out, &dr.after, &colours, "h4");
    }
    if let Some(w) = &report.what_if {
        out.push_str("<h2>What if</h2>\n<ul>\n");
        for (label, list) in w.name_lists() {
            if !list.is_empty() {
                let _ = writeln!(out, "<li>{label}: {}</li>", esc(&list.join(", ")));
            }
        }
        for (c, to) in w.added() {
            let _ = writeln!(out, "<li>new {} &rarr; {}</li>", esc(c), esc(to));
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
        density(&mut out, &w.density, &colours, "h4");
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

/// The page's style. Summaries are slate (red when nearly full), containers take the palette,
/// so neither is mistaken for the other; the host grid's bar column takes whatever width the
/// window leaves, and a narrow window stacks name, bar and figures.
const CSS: &str = "body{font:14px system-ui,sans-serif;margin:1.5em 2em;color:#222}\
h1{margin:.2em 0 .6em}h2{margin:1.4em 0 .5em}\
code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}th{background:#f6f6f6}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;\
height:.9em;margin-right:.3em;vertical-align:middle}.warn{color:#a15c00}.bad{color:#b00020}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(18em,1fr));gap:.8em;margin:.6em 0}\
.card{border:1px solid #d5dbe3;border-left:6px solid #34495e;background:#f7f9fb;padding:.5em .8em}\
.card h3{margin:0 0 .3em;font-size:1em}.card p{margin:.3em 0}\
.sumbar{position:relative;height:1.1em;background:#e6e6e6}\
.sum{height:100%;background:#34495e}.sum.full{background:#8e1b2f}.sw.sum{height:.9em}\
.rows{display:grid;grid-template-columns:minmax(6em,max-content) minmax(10em,1fr) \
minmax(14em,max-content);gap:.35em .8em;align-items:center}\
.rows .span{grid-column:1/-1;margin:.9em 0 .1em}.row{display:contents}.name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.bar{position:relative;display:flex;height:1.5em;min-width:0}\
.track{position:absolute;left:0;top:0;bottom:0;background:#e6e6e6}\
.seg{position:relative;flex:none;height:100%;overflow:hidden;white-space:nowrap;\
text-overflow:ellipsis;font-size:11px;line-height:1.5em;color:#fff;padding:0 .2em;\
box-sizing:border-box;text-shadow:0 0 2px #000;box-shadow:inset -1px 0 #fff}\
.raw{position:absolute;top:-2px;bottom:-2px;border-left:2px dashed #222}\
.unknown{flex:1;text-align:center;line-height:1.5em;color:#555;font-style:italic;\
background:repeating-linear-gradient(45deg,#f4f4f4 0 6px,#dedede 6px 12px)}\
.fig{font-variant-numeric:tabular-nums}.fig small,.name small{color:#666}\
@media (max-width:640px){.rows{grid-template-columns:1fr}.name{margin-top:.4em}}";

/// One density: its summary line, a card per resource, the host bars per resource, what each
/// group holds where, and what could not be placed.
fn density(
    out: &mut String,
    d: &Density,
    colours: &std::collections::BTreeMap<String, &'static str>,
    heading: &str,
) {
    let summary = d.summary(|n| format!(", <span class=\"bad\">{n} not placed</span>"));
    let _ = writeln!(out, "<p>{summary}.</p>");
    if d.hosts.is_empty() {
        // A drain of the only host, or a what-if without hosts: nothing to draw, and no
        // capacity to call unknown.
        return problems(out, d);
    }
    bars::cards(out, d);
    // One grid for the three resources, so that their bars line up and share one scale of
    // widths.
    out.push_str("<div class=\"rows\">\n");
    for r in Resource::ALL {
        let _ = writeln!(
            out,
            "<{heading} class=\"span\">{} per host</{heading}>",
            bars::title(r)
        );
        bars::host_rows(out, d, r, colours);
    }
    out.push_str("</div>\n");
    let rows: Vec<Vec<String>> = d
        .hosts
        .iter()
        .flat_map(|h| {
            h.by_group.iter().map(|(g, a)| {
                let mut row = vec![h.host.clone(), g.clone()];
                row.extend(Resource::ALL.iter().map(|r| r.format(a.get(*r))));
                row
            })
        })
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(out, "<{heading}>Containers by host</{heading}>");
        table(out, &["host", "group", "cpu", "memory", "disk"], &rows);
    }
    problems(out, d);
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

/// A table; cells after the first that start with a digit are figures, right-aligned.
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let num = i > 0 && c.starts_with(|ch: char| ch.is_ascii_digit());
            let class = if num { " class=\"num\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
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
