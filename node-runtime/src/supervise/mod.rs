//! `fleet-node supervise`: the one long-running fleet-node process, and an optional one. It
//! watches every running container's init through a pidfd and, when one ends without a verb
//! stopping it, restarts the container by its `restart` policy, with back-off
//! (`RestartSpec::decide`; the work is `Runtime::supervise_step`, under the container's lock).
//!
//! It learns of containers from the store: inotify on `<root>/containers` and on each container
//! directory (a state.json or config.json renamed into place), a full scan at start, after an
//! inotify overflow, at SIGHUP and every five minutes. How an init ended comes from the kernel's
//! process events (`exits.rs`), since inits are not its children. Without a supervisor
//! everything but restarts works; the hello says whether one runs (`record.rs`).
//!
//! Neighbours: `cli/supervise.rs` starts it; the `fleet-node.service` unit runs it with
//! `--boot` (`boot.rs`: the onboot containers, once per host boot).

pub mod boot;
mod exits;
mod record;
pub mod unit;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::container::{Runtime, Supervised, now_ms};
use crate::error::{Error, Result};
use crate::sys::process;

pub use record::running;

/// How `supervise` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Start the onboot containers first, once per host boot.
    pub boot: bool,
}

/// A full scan this often, whatever inotify says.
const RESCAN_MS: u64 = 300_000;
/// How long after an init is found gone its exit event may still arrive.
const SETTLE_MS: u64 = 200;
/// When a container's lock is held by someone else, look again this much later.
const BUSY_RETRY_MS: u64 = 100;
/// After an error on one container, look again this much later.
const ERROR_RETRY_MS: u64 = 5_000;

const SIGNALS: u64 = 0;
const STORE: u64 = 1;
const EXITS: u64 = 2;
/// Tokens from here on are pidfds.
const FIRST_WATCH: u64 = 3;

/// Runs until SIGTERM or SIGINT.
pub fn run(runtime: &Runtime, options: Options) -> Result<()> {
    let root = runtime.store.root().to_owned();
    let _claim = record::claim(&root)?;
    let mut mask = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        mask.add(signal);
    }
    mask.thread_block().map_err(sys("block signals"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(sys("open a signalfd"))?;
    let open_files = process::raise_open_files_limit();
    if options.boot {
        boot::once_per_host_boot(runtime)?;
    }
    let mut sup = Supervisor::new(runtime)?;
    sup.epoll
        .add(&signals, EpollEvent::new(EpollFlags::EPOLLIN, SIGNALS))
        .map_err(sys("watch signals"))?;
    eprintln!(
        "fleet-node supervise: watching {} (pid {}, up to {} containers)",
        root.display(),
        std::process::id(),
        open_files.saturating_sub(64)
    );
    sup.scan_all();
    let mut next_scan = now_ms() + RESCAN_MS;
    let mut events = vec![EpollEvent::empty(); 64];
    loop {
        let now = now_ms();
        let wake = sup
            .due
            .values()
            .copied()
            .min()
            .unwrap_or(u64::MAX)
            .min(next_scan);
        let timeout = EpollTimeout::try_from(Duration::from_millis(wake.saturating_sub(now)))
            .unwrap_or(EpollTimeout::MAX);
        let n = match sup.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(sys("wait")(e)),
        };
        sup.exits.drain();
        let mut rescan = false;
        for event in &events[..n] {
            match event.data() {
                SIGNALS => match signals.read_signal() {
                    Ok(Some(info)) if info.ssi_signo == Signal::SIGHUP as u32 => rescan = true,
                    Ok(Some(info)) => {
                        eprintln!(
                            "fleet-node supervise: signal {}; exiting (containers keep running)",
                            info.ssi_signo
                        );
                        return Ok(());
                    }
                    _ => {}
                },
                STORE => rescan |= sup.on_store_events(),
                EXITS => {}
                token => sup.on_init_gone(token),
            }
        }
        sup.run_due();
        if rescan || now_ms() >= next_scan {
            sup.scan_all();
            next_scan = now_ms() + RESCAN_MS;
        }
    }
}

fn sys(what: &'static str) -> impl Fn(nix::errno::Errno) -> Error {
    move |e| Error::Io {
        action: what,
        path: PathBuf::from("(supervise)"),
        source: e.into(),
    }
}

/// A running init and its pidfd.
struct Watch {
    name: String,
    pid: i32,
    pidfd: OwnedFd,
}

struct Supervisor<'a> {
    runtime: &'a Runtime,
    epoll: Epoll,
    inotify: Inotify,
    /// The containers directory's watch.
    top: WatchDescriptor,
    /// Each container directory's watch.
    dirs: HashMap<WatchDescriptor, String>,
    watches: HashMap<u64, Watch>,
    by_name: HashMap<String, u64>,
    /// Containers to look at again, and when (a restart's delay, a busy lock, a retry).
    due: HashMap<String, u64>,
    /// The restart time last written to the log per container, so it is said once.
    announced: HashMap<String, u64>,
    exits: exits::RecentExits,
    next_token: u64,
}

impl<'a> Supervisor<'a> {
    fn new(runtime: &'a Runtime) -> Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(sys("create epoll"))?;
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(sys("create inotify"))?;
        let dir = runtime.store.containers_dir();
        crate::store::private_dir(&dir)?;
        let top = inotify
            .add_watch(
                &dir,
                AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_DELETE
                    | AddWatchFlags::IN_ONLYDIR
                    | AddWatchFlags::IN_DONT_FOLLOW,
            )
            .map_err(|e| crate::error::io_err("watch", &dir)(e.into()))?;
        epoll
            .add(&inotify, EpollEvent::new(EpollFlags::EPOLLIN, STORE))
            .map_err(sys("watch the store"))?;
        let exits = exits::RecentExits::open();
        if let Some(fd) = exits.fd() {
            epoll
                .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, EXITS))
                .map_err(sys("watch process events"))?;
        }
        Ok(Supervisor {
            runtime,
            epoll,
            inotify,
            top,
            dirs: HashMap::new(),
            watches: HashMap::new(),
            by_name: HashMap::new(),
            due: HashMap::new(),
            announced: HashMap::new(),
            exits,
            next_token: FIRST_WATCH,
        })
    }

    /// Every container in the store, and the ones watched that may be gone.
    fn scan_all(&mut self) {
        let names = match self.runtime.store.names() {
            Ok(names) => names,
            Err(e) => {
                eprintln!("fleet-node supervise: listing containers: {e}");
                return;
            }
        };
        let mut all: Vec<String> = self.by_name.keys().cloned().collect();
        for name in names {
            self.watch_dir(&name);
            all.push(name);
        }
        all.sort();
        all.dedup();
        for name in all {
            self.check(&name);
        }
    }

    /// Reads inotify's events and looks at the containers they name; true on an overflow,
    /// which calls for a full scan.
    fn on_store_events(&mut self) -> bool {
        let mut names = Vec::new();
        let mut overflow = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    overflow = true;
                    continue;
                }
                if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.dirs.remove(&event.wd);
                    continue;
                }
                let file = event.name.as_ref().and_then(|n| n.to_str()).unwrap_or("");
                if event.wd == self.top {
                    if !file.is_empty() && !file.starts_with('.') && !file.ends_with(".lock") {
                        names.push(file.to_owned());
                    }
                } else if matches!(file, "state.json" | "config.json")
                    && let Some(name) = self.dirs.get(&event.wd)
                {
                    names.push(name.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            self.watch_dir(&name);
            self.check(&name);
        }
        overflow
    }

    fn watch_dir(&mut self, name: &str) {
        if self.dirs.values().any(|n| n == name) {
            return;
        }
        let dir = self.runtime.store.layout(name).dir;
        if let Ok(wd) = self.inotify.add_watch(
            &dir,
            AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ONLYDIR | AddWatchFlags::IN_DONT_FOLLOW,
        ) {
            self.dirs.insert(wd, name.to_owned());
        }
    }

    /// An init's pidfd became readable: it is gone. Looked at once its exit event had time to
    /// arrive.
    fn on_init_gone(&mut self, token: u64) {
        if let Some(watch) = self.watches.remove(&token) {
            let _ = self.epoll.delete(&watch.pidfd);
            self.by_name.remove(&watch.name);
            self.exits.drain();
            let at = now_ms() + if self.exits.fd().is_some() { 20 } else { 0 };
            self.due.insert(watch.name, at);
        }
    }

    fn run_due(&mut self) {
        let now = now_ms();
        let mut ready: Vec<String> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        ready.sort();
        for name in ready {
            self.due.remove(&name);
            self.check(&name);
        }
    }

    /// One step on the container (under its lock, taken without waiting), then watching,
    /// scheduling or forgetting it by what the step found.
    fn check(&mut self, name: &str) {
        let lock = match self.runtime.store.try_lock(name) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                self.due.insert(name.to_owned(), now_ms() + BUSY_RETRY_MS);
                return;
            }
            Err(e) => {
                eprintln!("fleet-node supervise: {name}: {e}");
                self.due.insert(name.to_owned(), now_ms() + ERROR_RETRY_MS);
                return;
            }
        };
        let settle = if self.exits.fd().is_some() {
            SETTLE_MS
        } else {
            0
        };
        let exits = &self.exits;
        let step =
            self.runtime
                .supervise_step(name, &lock, |pid| exits.status_of(pid), now_ms(), settle);
        drop(lock);
        let step = match step {
            Ok(step) => step,
            Err(e) => {
                eprintln!("fleet-node supervise: {name}: {e}");
                self.due.insert(name.to_owned(), now_ms() + ERROR_RETRY_MS);
                return;
            }
        };
        let fresh = match step.seen {
            Supervised::RestartAt { at_ms } => {
                self.announced.insert(name.to_owned(), at_ms) != Some(at_ms)
            }
            _ => {
                self.announced.remove(name);
                true
            }
        };
        if let Some(note) = &step.note
            && fresh
        {
            eprintln!("fleet-node supervise: {name}: {note}");
        }
        match step.seen {
            Supervised::Running { pid } => {
                self.due.remove(name);
                self.watch_init(name, pid);
            }
            Supervised::RestartAt { at_ms } => {
                self.unwatch(name);
                self.due.insert(name.to_owned(), at_ms);
            }
            Supervised::Down | Supervised::Gone => {
                self.unwatch(name);
                self.due.remove(name);
            }
        }
    }

    fn watch_init(&mut self, name: &str, pid: i32) {
        if let Some(token) = self.by_name.get(name)
            && self.watches.get(token).is_some_and(|w| w.pid == pid)
        {
            return;
        }
        self.unwatch(name);
        let pidfd = match process::pidfd_open(pid) {
            Ok(fd) => fd,
            Err(_) => {
                // Gone between the step and now.
                self.due.insert(name.to_owned(), now_ms());
                return;
            }
        };
        let token = self.next_token;
        self.next_token += 1;
        if let Err(e) = self
            .epoll
            .add(&pidfd, EpollEvent::new(EpollFlags::EPOLLIN, token))
        {
            eprintln!("fleet-node supervise: {name}: cannot watch init {pid}: {e}");
            self.due.insert(name.to_owned(), now_ms() + ERROR_RETRY_MS);
            return;
        }
        self.by_name.insert(name.to_owned(), token);
        self.watches.insert(
            token,
            Watch {
                name: name.to_owned(),
                pid,
                pidfd,
            },
        );
    }

    fn unwatch(&mut self, name: &str) {
        if let Some(token) = self.by_name.remove(name)
            && let Some(watch) = self.watches.remove(&token)
        {
            let _ = self.epoll.delete(&watch.pidfd);
        }
    }
}
