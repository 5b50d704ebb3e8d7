//! The report's graphics as HTML and CSS: the fleet's summary cards, one per resource, and the
//! host rows (name, stacked bar, figures). Every figure a bar shows is also written as text
//! beside it; a segment's hover title only repeats it.
//!
//! Neighbours: called by the page in `super`; the colours of the groups are chosen here once
//! per report so that every chart of a page agrees.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::esc;
use crate::capacity::{Density, HostDensity, Line};
use crate::schedule::Resource;

/// Groups beyond this many per report share one "other" colour.
const COLOURED_GROUPS: usize = 12;
/// The containers' palette (Tableau 10 and two more); the summaries' slate and dark red, the
/// headroom grey and the unknown hatch are none of these.
const PALETTE: [&str; COLOURED_GROUPS] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#86bcb6", "#d37295", "#a0cbe8",
];
const OTHER: &str = "#8c8c8c";
/// A summary is drawn as nearly full above this share.
const NEARLY_FULL: f64 = 0.9;

/// The heading of a resource.
pub fn title(r: Resource) -> &'static str {
    match r {
        Resource::Cpu => "CPU",
        Resource::Memory => "Memory",
        Resource::Disk => "Disk",
    }
}

/// Stable colours: the groups holding most across the fleet get the palette, in that order.
pub fn colours(d: &Density) -> BTreeMap<String, &'static str> {
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

/// The key to the colours of the page.
pub fn legend(out: &mut String, colours: &BTreeMap<String, &'static str>) {
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
        "<span><i class=\"sw sum\"></i>fleet summary</span>\
         <span><i class=\"sw\" style=\"background:#e6e6e6\"></i>headroom</span>\
         <span>&#9482; raw capacity (beyond it: overcommit)</span></p>\n",
    );
}

/// The fleet's card per resource: allocated against allocatable over the hosts whose capacity
/// is known, and "capacity unknown" where no host's is.
pub fn cards(out: &mut String, d: &Density) {
    let known = d.hosts.iter().filter(|h| h.capacity_known).count();
    out.push_str("<div class=\"cards\">\n");
    for l in &d.totals {
        let r = l.resource;
        let _ = write!(out, "<section class=\"card\"><h3>{} (fleet)</h3>", title(r));
        if known == 0 {
            let allocated: u64 = d.hosts.iter().map(|h| h.lines[r.index()].allocated).sum();
            let _ = write!(
                out,
                "<p><strong>capacity unknown</strong> on every host: {} allocated. Declare \
                 capacity in the spec or pass --observe.</p>",
                esc(&r.format(allocated))
            );
        } else {
            let share = l.utilisation();
            let _ = write!(
                out,
                "<div class=\"sumbar\"><div class=\"sum{full}\" style=\"width:{w:.2}%\"></div></div>\
                 <p><strong>{pct:.0}%</strong>: {figures}</p>",
                full = if share > NEARLY_FULL { " full" } else { "" },
                w = share.min(1.0) * 100.0,
                pct = share * 100.0,
                figures = esc(&figures(l)),
            );
            if known < d.hosts.len() {
                let _ = write!(
                    out,
                    "<p><small>over the {known} hosts whose capacity is known; {} unknown, \
                     not counted</small></p>",
                    d.hosts.len() - known
                );
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</div>\n");
}

/// A line's figures in words: allocated of allocatable, the share, headroom, raw capacity where
/// overcommit lifts the limit, and what is in use where a node reported it.
fn figures(l: &Line) -> String {
    let r = l.resource;
    let mut text = format!(
        "{} of {} allocated ({:.0}%), {} free",
        r.format(l.allocated),
        r.format(l.allocatable),
        l.utilisation() * 100.0,
        r.format(l.headroom)
    );
    if l.capacity != l.allocatable {
        let _ = write!(text, ", raw {}", r.format(l.capacity));
    }
    if let Some(u) = l.used {
        let _ = write!(text, ", {} in use", r.format(u));
    }
    text
}

/// One row per host for resource `r` (cells of the caller's grid): name, a stacked bar on the
/// scale of the largest host, figures.
pub fn host_rows(
    out: &mut String,
    d: &Density,
    r: Resource,
    colours: &BTreeMap<String, &'static str>,
) {
    let i = r.index();
    let scale = d
        .hosts
        .iter()
        .map(|h| h.lines[i].allocatable.max(h.lines[i].allocated))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let pct = |v: u64| v as f64 / scale * 100.0;
    for h in &d.hosts {
        let l = &h.lines[i];
        let _ = write!(
            out,
            "<div class=\"row\"><div class=\"name\">{}{}</div><div class=\"bar\">",
            esc(&h.host),
            note(h)
        );
        if h.capacity_known {
            let _ = write!(
                out,
                "<div class=\"track\" style=\"width:{:.2}%\"></div>",
                pct(l.allocatable)
            );
        }
        for (g, a) in &h.by_group {
            let amount = a.get(r);
            if amount == 0 {
                continue;
            }
            let label = esc(&format!("{g} {}", r.format(amount)));
            let _ = write!(
                out,
                "<div class=\"seg\" style=\"width:{w:.2}%;background:{c}\" title=\"{label} on {host}\">\
                 {label}</div>",
                w = pct(amount),
                c = colours.get(g).copied().unwrap_or(OTHER),
                host = esc(&h.host),
            );
        }
        if !h.capacity_known {
            out.push_str("<div class=\"unknown\">capacity unknown</div>");
        } else if l.capacity < l.allocatable {
            let _ = write!(
                out,
                "<div class=\"raw\" style=\"left:{:.2}%\" title=\"raw capacity {}\"></div>",
                pct(l.capacity),
                esc(&r.format(l.capacity))
            );
        }
        let figures = if h.capacity_known {
            figures(l)
        } else {
            let mut text = format!("{} allocated, capacity unknown", r.format(l.allocated));
            if let Some(u) = l.used {
                let _ = write!(text, ", {} in use", r.format(u));
            }
            text
        };
        let _ = writeln!(
            out,
            "</div><div class=\"fig\">{}</div></div>",
            esc(&figures)
        );
    }
}

/// What the host's name is followed by: where its capacity came from, whether usage was read.
fn note(h: &HostDensity) -> &'static str {
    if !h.capacity_known {
        " <small>(capacity unknown)</small>"
    } else if !h.observed_fields.is_empty() {
        " <small>(capacity from the node)</small>"
    } else {
        ""
    }
}
