//! The VM tier's phases: named steps of the one test that boots the VM pair, each timed on the
//! test's output (so a CI log shows where the minutes went) and each failure named after its
//! phase, with the phases done before it and their times.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// The phases run so far, with their wall times.
#[derive(Debug)]
pub struct Phases {
    started: Instant,
    done: Vec<(String, f64)>,
}

impl Default for Phases {
    fn default() -> Self {
        Phases::new()
    }
}

/// The text of a panic's payload (a `&str` or a `String`, as `panic!` makes them).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

impl Phases {
    /// Starts the clock of the whole tier.
    pub fn new() -> Phases {
        Phases {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs phase `name`: prints its start and its time; a panic inside becomes a panic whose
    /// message names the phase and the times so far.
    pub fn run<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        eprintln!("fleet-vm: phase {name}: start");
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(f));
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(value) => {
                eprintln!("fleet-vm: phase {name}: done in {secs:.1} s");
                self.done.push((name.to_owned(), secs));
                value
            }
            Err(payload) => self.fail(name, secs, &panic_text(payload.as_ref())),
        }
    }

    /// Records phases that ran side by side (on threads of their own): each `(name, seconds,
    /// outcome)`; panics naming every one that failed.
    pub fn record_parallel(&mut self, results: Vec<Outcome>) {
        let mut failed = Vec::new();
        for (name, secs, outcome) in results {
            match outcome {
                Ok(()) => {
                    eprintln!("fleet-vm: phase {name}: done in {secs:.1} s (in parallel)");
                    self.done.push((format!("{name} (parallel)"), secs));
                }
                Err(msg) => failed.push((name, secs, msg)),
            }
        }
        if let Some((name, secs, _)) = failed.first() {
            let all: String = failed
                .iter()
                .map(|(n, s, m)| format!("--- phase `{n}` failed after {s:.1} s ---\n{m}\n"))
                .collect();
            self.fail(name, *secs, &all);
        }
    }

    fn fail(&self, name: &str, secs: f64, msg: &str) -> ! {
        panic!(
            "VM tier: phase `{name}` failed after {secs:.1} s (phases before it: {})\n{msg}",
            self.summary()
        )
    }

    /// One line: every phase done with its seconds, and the total since [`Phases::new`].
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(n, s)| format!("{n} {s:.1} s"))
            .collect();
        format!(
            "{}; total {:.1} s",
            if parts.is_empty() {
                "none".to_owned()
            } else {
                parts.join(", ")
            },
            self.started.elapsed().as_secs_f64()
        )
    }
}

/// A phase's work, run on a thread of its own by [`parallel`].
pub type Job<'a> = Box<dyn FnOnce() + Send + 'a>;

/// How a phase that ran in [`parallel`] ended: its name, seconds, and the panic's text if any.
pub type Outcome = (String, f64, Result<(), String>);

/// Runs each `(name, job)` on a thread of its own and returns `(name, seconds, outcome)` for
/// [`Phases::record_parallel`]: phases on different VMs overlap, so the tier's wall time is the
/// slower VM's rather than the sum.
pub fn parallel<'a>(jobs: Vec<(&'a str, Job<'a>)>) -> Vec<Outcome> {
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(name, job)| {
                let handle = s.spawn(move || {
                    eprintln!("fleet-vm: phase {name}: start (in parallel)");
                    let started = Instant::now();
                    let outcome = catch_unwind(AssertUnwindSafe(job))
                        .map_err(|payload| panic_text(payload.as_ref()));
                    (started.elapsed().as_secs_f64(), outcome)
                });
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                let (secs, outcome) = handle
                    .join()
                    .unwrap_or_else(|p| (0.0, Err(panic_text(p.as_ref()))));
                (name.to_owned(), secs, outcome)
            })
            .collect()
    })
}
