//! Progress of an apply: indicatif bars when stderr is a terminal (one per host, moving as each
//! container finishes, with the elapsed time and the container being worked on, and a total),
//! else plain lines (one per container as it finishes, one per host when its work is done), for
//! CI logs; nothing when quiet.
//!
//! Fed by `apply` as batches start and steps finish: the node reports each action as it
//! finishes, so the bars move within a host's batch, not only at its end.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::Plan;

/// One host's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Steps finished (done, failed or skipped).
    pub finished: usize,
    /// Of those, not done.
    pub failed: usize,
    /// Steps the host has in the plan.
    pub total: usize,
}

/// Where progress goes.
pub enum Progress {
    /// Bars on a terminal.
    Bars {
        /// Per host.
        hosts: BTreeMap<String, ProgressBar>,
        /// All steps.
        total: ProgressBar,
        /// Per host counts, for the bars' messages.
        counts: Mutex<BTreeMap<String, HostCounts>>,
        /// Keeps the bars drawn together.
        _multi: MultiProgress,
    },
    /// Plain lines (stderr is not a terminal).
    Lines {
        /// Per host counts.
        counts: Mutex<BTreeMap<String, HostCounts>>,
        /// When the apply began, for each line's elapsed time.
        started: Instant,
    },
    /// Events as text, for tests of what the display is told and when.
    #[cfg(test)]
    Recorded(Mutex<Vec<String>>),
    /// Nothing (JSON output, tests).
    Quiet,
}

impl Progress {
    /// Bars if stderr is a terminal, else lines; quiet if asked.
    pub fn for_plan(plan: &Plan, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        let counts = counts(plan);
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                counts: Mutex::new(counts),
                started: Instant::now(),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{prefix:>16} {elapsed:>4} {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        let hosts = counts
            .iter()
            .map(|(h, c)| {
                let bar = multi.add(ProgressBar::new(c.total as u64).with_style(style.clone()));
                bar.set_prefix(h.clone());
                bar.set_message("waiting");
                (h.clone(), bar)
            })
            .collect();
        let total = multi.add(ProgressBar::new(plan.steps.len() as u64).with_style(style));
        total.set_prefix("total");
        Progress::Bars {
            hosts,
            total,
            counts: Mutex::new(counts),
            _multi: multi,
        }
    }

    /// A recorder, for tests.
    #[cfg(test)]
    pub fn recorded() -> Progress {
        Progress::Recorded(Mutex::new(Vec::new()))
    }

    /// What a recorder was told, in order.
    #[cfg(test)]
    pub fn events(&self) -> Vec<String> {
        match self {
            Progress::Recorded(events) => events.lock().map(|e| e.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// A batch of `n` steps was sent to `host`, starting with container `first`.
    pub fn batch_started(&self, host: &str, n: usize, first: &str) {
        #[cfg(test)]
        if let Progress::Recorded(events) = self
            && let Ok(mut e) = events.lock()
        {
            e.push(format!("{host}: batch of {n}"));
        }
        let _ = n;
        self.working_on(host, first);
    }

    /// `host` is working on `container` now.
    pub fn working_on(&self, host: &str, container: &str) {
        match self {
            Progress::Bars { hosts, counts, .. } => {
                if let Some(bar) = hosts.get(host) {
                    let failed = counts
                        .lock()
                        .ok()
                        .and_then(|c| c.get(host).map(|c| c.failed))
                        .unwrap_or(0);
                    bar.set_message(with_failed(container, failed));
                }
            }
            #[cfg(test)]
            Progress::Recorded(events) => {
                if let Ok(mut e) = events.lock() {
                    e.push(format!("{host}: working on {container}"));
                }
            }
            Progress::Lines { .. } | Progress::Quiet => {}
        }
    }

    /// The step of `container` on `host` finished (or was skipped); `ok` when it was done.
    pub fn step_finished(&self, host: &str, container: &str, ok: bool) {
        match self {
            Progress::Bars {
                hosts,
                total,
                counts,
                ..
            } => {
                let now = counts.lock().ok().and_then(|mut c| {
                    let c = c.get_mut(host)?;
                    c.finished += 1;
                    c.failed += usize::from(!ok);
                    Some(*c)
                });
                if let (Some(bar), Some(c)) = (hosts.get(host), now) {
                    bar.inc(1);
                    if c.finished >= c.total {
                        bar.finish_with_message(with_failed("done", c.failed));
                    }
                }
                total.inc(1);
            }
            Progress::Lines { counts, started } => {
                let Ok(mut counts) = counts.lock() else {
                    return;
                };
                if let Some(c) = counts.get_mut(host) {
                    c.finished += 1;
                    c.failed += usize::from(!ok);
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!("{}", step_line(host, container, ok, c, secs));
                    if c.finished == c.total {
                        eprintln!("{}", line(host, c, secs));
                    }
                }
            }
            #[cfg(test)]
            Progress::Recorded(events) => {
                if let Ok(mut e) = events.lock() {
                    e.push(format!(
                        "{host}: {container} finished {}",
                        if ok { "ok" } else { "not done" }
                    ));
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Leaves the bars drawn as they ended.
    pub fn finish(&self) {
        if let Progress::Bars { hosts, total, .. } = self {
            for bar in hosts.values().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
            total.finish_with_message("done");
        }
    }
}

/// Steps per host in `plan`.
fn counts(plan: &Plan) -> BTreeMap<String, HostCounts> {
    let mut out: BTreeMap<String, HostCounts> = BTreeMap::new();
    for s in &plan.steps {
        out.entry(s.change.host.clone()).or_default().total += 1;
    }
    out
}

fn with_failed(what: &str, failed: usize) -> String {
    if failed == 0 {
        what.to_owned()
    } else {
        format!("{what} ({failed} not done)")
    }
}

/// The plain line for one finished step: `node-1: web-03 done (3/20, 1.2s)`.
pub fn step_line(host: &str, container: &str, ok: bool, c: &HostCounts, secs: f64) -> String {
    let what = if ok { "done" } else { "not done" };
    format!(
        "{host}: {container} {what} ({}/{}, {secs:.1}s)",
        c.finished, c.total
    )
}

/// The plain line for a host whose steps have all finished.
pub fn line(host: &str, c: &HostCounts, elapsed_secs: f64) -> String {
    format!(
        "{host}: {} step(s) finished, {} not done ({elapsed_secs:.1}s)",
        c.total, c.failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_line_says_what_finished_and_how_long_it_took() {
        let c = HostCounts {
            finished: 3,
            failed: 1,
            total: 3,
        };
        assert_eq!(
            line("node-1", &c, 2.345),
            "node-1: 3 step(s) finished, 1 not done (2.3s)"
        );
        let two = HostCounts { finished: 2, ..c };
        assert_eq!(
            step_line("node-1", "web-02", false, &two, 0.25),
            "node-1: web-02 not done (2/3, 0.2s)"
        );
    }
}
