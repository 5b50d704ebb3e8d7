//! Progress of an apply: indicatif bars (one per host and a total) when stderr is a terminal,
//! else one plain line per host batch as it finishes; nothing when quiet.
//!
//! Fed by `apply` as batches start and steps finish.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plan::Plan;

/// Where progress goes.
pub enum Progress {
    /// Bars on a terminal.
    Bars {
        /// Per host.
        hosts: BTreeMap<String, ProgressBar>,
        /// All steps.
        total: ProgressBar,
        /// Keeps the bars drawn together.
        _multi: MultiProgress,
    },
    /// Plain lines (stderr is not a terminal).
    Lines {
        /// host -> (finished, failed, total)
        state: Mutex<BTreeMap<String, (usize, usize, usize)>>,
    },
    /// Nothing (JSON output, tests).
    Quiet,
}

impl Progress {
    /// Bars if stderr is a terminal, else lines; quiet if asked.
    pub fn for_plan(plan: &Plan, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        let mut per_host: BTreeMap<String, usize> = BTreeMap::new();
        for s in &plan.steps {
            *per_host.entry(s.change.host.clone()).or_default() += 1;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                state: Mutex::new(per_host.into_iter().map(|(h, n)| (h, (0, 0, n))).collect()),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>16} {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let hosts = per_host
            .into_iter()
            .map(|(h, n)| {
                let bar = multi.add(ProgressBar::new(n as u64).with_style(style.clone()));
                bar.set_prefix(h.clone());
                (h, bar)
            })
            .collect();
        let total = multi.add(ProgressBar::new(plan.steps.len() as u64).with_style(style));
        total.set_prefix("total");
        Progress::Bars {
            hosts,
            total,
            _multi: multi,
        }
    }

    /// A batch of `n` steps was sent to `host`.
    pub fn batch_started(&self, host: &str, n: usize) {
        if let Progress::Bars { hosts, .. } = self
            && let Some(bar) = hosts.get(host)
        {
            bar.set_message(format!("applying {n}"));
        }
    }

    /// One step on `host` finished (or was skipped).
    pub fn step_finished(&self, host: &str, ok: bool) {
        match self {
            Progress::Bars { hosts, total, .. } => {
                if let Some(bar) = hosts.get(host) {
                    bar.inc(1);
                    if !ok {
                        bar.set_message("some failed");
                    }
                    if bar.position() == bar.length().unwrap_or(0) {
                        bar.finish();
                    }
                }
                total.inc(1);
            }
            Progress::Lines { state } => {
                let Ok(mut state) = state.lock() else { return };
                if let Some((done, failed, n)) = state.get_mut(host) {
                    *done += 1;
                    *failed += usize::from(!ok);
                    if *done == *n {
                        eprintln!("{host}: {n} step(s) finished, {failed} not done");
                    }
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Clears the bars.
    pub fn finish(&self) {
        if let Progress::Bars { hosts, total, .. } = self {
            for bar in hosts.values() {
                bar.finish();
            }
            total.finish();
        }
    }
}
