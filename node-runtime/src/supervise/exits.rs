//! How recent processes ended, from the kernel's process events (`sys::proc_events`), kept for
//! a minute so that a supervisor step that runs after the event (it waits for the container's
//! lock, or learns of the init later) still finds it.
//!
//! Container inits are not the supervisor's children, so waitpid cannot tell it their status;
//! the connector can. Without it (no CAP_NET_ADMIN, a kernel without `CONFIG_PROC_EVENTS`) the
//! supervisor still restarts by policy and records the status as unknown.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use fleet_protocol::ExitStatus;

use crate::sys::proc_events::{Exit, ProcEvents};

/// How long an exit is remembered.
const KEEP: Duration = Duration::from_secs(60);

/// The exits seen lately, by pid.
#[derive(Debug)]
pub struct RecentExits {
    events: Option<ProcEvents>,
    seen: HashMap<i32, (ExitStatus, Instant)>,
    buf: Vec<Exit>,
}

impl RecentExits {
    /// Subscribes to the kernel's exit events; without them, says why on stderr and carries on.
    pub fn open() -> RecentExits {
        let events = match ProcEvents::open() {
            Ok(events) => Some(events),
            Err(e) => {
                eprintln!(
                    "fleet-node supervise: no process events ({e}): exit statuses will read \
                     \"unknown\"; restarts work all the same"
                );
                None
            }
        };
        RecentExits {
            events,
            seen: HashMap::new(),
            buf: Vec::new(),
        }
    }

    /// The descriptor to wait on, when subscribed.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.events.as_ref().map(|e| e.as_fd())
    }

    /// Reads what is queued and forgets what is old.
    pub fn drain(&mut self) {
        let Some(events) = &self.events else {
            return;
        };
        self.buf.clear();
        match events.drain(&mut self.buf) {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "fleet-node supervise: process events were lost (a burst of exits): some \
                 statuses will read \"unknown\""
            ),
            Err(e) => eprintln!("fleet-node supervise: reading process events: {e}"),
        }
        let now = Instant::now();
        for exit in &self.buf {
            self.seen.insert(
                exit.pid,
                (ExitStatus::from_wait_status(exit.wait_status), now),
            );
        }
        self.seen
            .retain(|_, (_, at)| now.duration_since(*at) < KEEP);
    }

    /// How `pid` ended, if it was seen ending lately.
    pub fn status_of(&self, pid: i32) -> Option<ExitStatus> {
        self.seen.get(&pid).map(|(status, _)| *status)
    }
}
