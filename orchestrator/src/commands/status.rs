//! `fleet status`: per container, in sync, drifted (which fields), missing, stopped, or not in
//! the spec; read from the kernel through each node, changing nothing.

use std::fmt::Write as _;
use std::process::ExitCode;

use fleet_protocol::LastExit;
use serde::Serialize;

use super::{Output, ReconcileArgs, load, runtime};
use crate::diff::{Change, Diff, DiffOptions};
use crate::observe;

/// Arguments of `fleet status`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  fleet status -f fleet.yaml\n  fleet status -f fleet.yaml -o json\n  \
fleet status -f fleet.yaml -l app=web\n\n\
Exit status: 0 when every container is in sync, 2 when some are not, 1 on error."
)]
pub struct Args {
    #[command(flatten)]
    reconcile: ReconcileArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// One container's status line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Host (empty when unplaced).
    pub host: String,
    /// Container.
    pub container: String,
    /// `in sync`, `drifted`, `missing`, `stopped`, `running`, `recreate`, `not in spec`,
    /// `unknown`, `refused`.
    pub status: String,
    /// Fields or reason.
    pub detail: String,
    /// Restarts by its restart policy since something last started it, as its node counts.
    #[serde(skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// How its init last ended on its own (not stopped by a verb), as its node recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<LastExit>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Copies each container's restart count and last exit from what its node reported.
pub fn add_restarts(lines: &mut [Line], observed: &observe::Observed) {
    for l in lines {
        if let Some(observe::HostObservation::Reachable { containers, .. }) =
            observed.hosts.get(&l.host)
            && let Some(c) = containers.iter().find(|c| c.name == l.container)
        {
            l.restarts = c.restarts;
            l.last_exit = c.last_exit.clone();
        }
    }
}

/// `restarts 3, last exit killed by SIGKILL at 2026-12-01T16:02:11Z`, or nothing.
fn restarts_text(l: &Line) -> String {
    let mut parts = Vec::new();
    if l.restarts > 0 {
        parts.push(format!("restarts {}", l.restarts));
    }
    if let Some(e) = &l.last_exit {
        let gave_up = if e.gave_up { " (gave up)" } else { "" };
        parts.push(format!("last exit {} at {}{gave_up}", e.status, e.at));
    }
    parts.join(", ")
}

/// The text table: one row per line, restarts and last exit after the detail.
fn table(lines: &[Line]) -> String {
    let mut out = String::new();
    let w = lines
        .iter()
        .map(|l| l.container.len())
        .max()
        .unwrap_or(9)
        .max(9);
    let hw = lines.iter().map(|l| l.host.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<hw$}  {:<w$}  {:<11}  DETAIL",
        "HOST", "CONTAINER", "STATUS"
    );
    for l in lines {
        let detail = match (l.detail.as_str(), restarts_text(l)) {
            (d, r) if r.is_empty() => d.to_owned(),
            ("", r) => r,
            (d, r) => format!("{d}; {r}"),
        };
        let _ = writeln!(
            out,
            "{:<hw$}  {:<w$}  {:<11}  {}",
            l.host, l.container, l.status, detail
        );
    }
    out
}

/// Status lines from a diff, sorted by host then container.
pub fn lines(d: &Diff) -> Vec<Line> {
    let mut out = Vec::new();
    let from = |c: &Change, status: &str| Line {
        host: c.host.clone(),
        container: c.name.clone(),
        status: status.into(),
        detail: c
            .fields
            .iter()
            .map(|f| format!("{}: {} -> {}", f.field, f.old, f.new))
            .collect::<Vec<_>>()
            .join(", "),
        ..Line::default()
    };
    for (host, name) in &d.in_sync {
        out.push(Line {
            host: host.clone(),
            container: name.clone(),
            status: "in sync".into(),
            detail: String::new(),
            ..Line::default()
        });
    }
    out.extend(d.create.iter().map(|c| {
        let mut l = from(c, "missing");
        if let Some(n) = &c.note {
            l.detail = n.clone();
        }
        l
    }));
    out.extend(d.update_live.iter().map(|c| from(c, "drifted")));
    out.extend(d.update_restart.iter().map(|c| from(c, "drifted")));
    out.extend(d.recreate.iter().map(|c| from(c, "drifted")));
    out.extend(d.start.iter().map(|c| from(c, "stopped")));
    out.extend(d.stop.iter().map(|c| from(c, "running")));
    out.extend(d.destroy.iter().map(|c| from(c, "not in spec")));
    out.extend(d.not_in_spec.iter().map(|(h, n)| Line {
        host: h.clone(),
        container: n.clone(),
        status: "not in spec".into(),
        detail: String::new(),
        ..Line::default()
    }));
    for (refusals, status) in [(&d.skipped, "unknown"), (&d.refused, "refused")] {
        out.extend(refusals.iter().map(|r| Line {
            host: r.host.clone(),
            container: r.name.clone(),
            status: status.into(),
            detail: r.reason.clone(),
            ..Line::default()
        }));
    }
    out.sort_by(|a, b| (&a.host, &a.container).cmp(&(&b.host, &b.container)));
    out
}

/// Runs `fleet status`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = load(&args.reconcile.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let opts = DiffOptions {
        prune: false,
        allow_recreate: args.reconcile.allow_recreate,
    };
    let rt = runtime()?;
    let targets = args.reconcile.select.targets()?;
    let prepared = rt
        .block_on(args.reconcile.connect.reconcile(fleet, opts, &targets))
        .map_err(|e| miette::miette!("{e}"))?;
    rt.block_on(observe::close_all(prepared.sessions));
    let d = &prepared.plan.diff;
    let mut lines = lines(d);
    add_restarts(&mut lines, &prepared.observed);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&lines).map_err(|e| miette::miette!("{e}"))?
        ),
        Output::Text => print!("{}", table(&lines)),
    }
    for (host, batch) in crate::apply::journal::interrupted(&prepared.observed) {
        let note = crate::apply::journal::note(&host, &batch, "the next apply finishes it");
        eprintln!("note: {note}");
    }
    for (host, why) in &d.unreachable {
        eprintln!("error: host {host} is unreachable: {why}");
    }
    Ok(if !d.unreachable.is_empty() {
        ExitCode::FAILURE
    } else if lines.iter().all(|l| l.status == "in sync") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use fleet_protocol::{ExitStatus, LastExit};

    use super::{Line, table};

    #[test]
    fn the_table_shows_restarts_and_the_last_exit() {
        let line = |container: &str, status: &str, detail: &str| Line {
            host: "vm-1".into(),
            container: container.into(),
            status: status.into(),
            detail: detail.into(),
            ..Line::default()
        };
        let crashed = Line {
            restarts: 3,
            last_exit: Some(LastExit {
                status: ExitStatus::Killed { signal: 9 },
                at: "2026-12-01T16:02:11Z".into(),
                gave_up: false,
            }),
            ..line("on-1", "in sync", "")
        };
        let gave_up = Line {
            last_exit: Some(LastExit {
                status: ExitStatus::Exited { code: 3 },
                at: "2026-12-01T16:05:00Z".into(),
                gave_up: true,
            }),
            ..line("off-1", "stopped", "spec wants running")
        };
        let text = table(&[crashed, gave_up, line("off-2", "in sync", "")]);
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].starts_with("HOST"), "{text}");
        assert!(
            rows[1].ends_with("restarts 3, last exit killed by SIGKILL at 2026-12-01T16:02:11Z"),
            "{text}"
        );
        assert!(
            rows[2].ends_with(
                "spec wants running; last exit exited 3 at 2026-12-01T16:05:00Z (gave up)"
            ),
            "{text}"
        );
        assert!(rows[3].trim_end().ends_with("in sync"), "{text}");
    }
}
