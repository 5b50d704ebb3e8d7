//! Freezing a container's cgroup for the final dump: v1's freezer (`freezer.state`), v2's
//! `cgroup.freeze` (done when `cgroup.events` says `frozen 1`). Every task stops where it is,
//! forks included, so the tree CRIU walks cannot change under it. [`Frozen`] thaws on drop, so
//! a failed dump (any early return) leaves the container running.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cgroups::{Cgroup, Version};
use crate::error::{Result, io_err};

/// How long a freeze may take before the checkpoint gives up (and thaws).
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// A frozen cgroup; thawed when dropped unless [`Frozen::keep`] was called.
#[derive(Debug)]
pub struct Frozen {
    control: Control,
    thaw_on_drop: bool,
    /// When the freeze was asked for (the start of the container's downtime).
    pub since: Instant,
}

#[derive(Debug, Clone)]
enum Control {
    /// v1: `<freezer>/<parent>/<name>/freezer.state`.
    V1(PathBuf),
    /// v2: the group's directory (`cgroup.freeze`, `cgroup.events`).
    V2(PathBuf),
}

impl Control {
    fn of(cgroup: &Cgroup) -> Option<Control> {
        match cgroup.version() {
            Version::V1 => cgroup
                .controller_dir("freezer")
                .map(|d| Control::V1(d.join("freezer.state"))),
            Version::V2 => cgroup.dirs().into_iter().next().map(Control::V2),
        }
    }

    /// The directory CRIU's `--freeze-cgroup` takes.
    fn dir(&self) -> PathBuf {
        match self {
            Control::V1(state) => state.parent().map(PathBuf::from).unwrap_or_default(),
            Control::V2(dir) => dir.clone(),
        }
    }

    fn request(&self, frozen: bool) -> Result<()> {
        let (file, value) = match self {
            Control::V1(state) => (state.clone(), if frozen { "FROZEN" } else { "THAWED" }),
            Control::V2(dir) => (dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }),
        };
        fs::write(&file, value).map_err(io_err("write", &file))
    }

    fn is_frozen(&self) -> Result<bool> {
        match self {
            Control::V1(state) => {
                let text = fs::read_to_string(state).map_err(io_err("read", state))?;
                Ok(text.trim() == "FROZEN")
            }
            Control::V2(dir) => {
                let events = dir.join("cgroup.events");
                let text = fs::read_to_string(&events).map_err(io_err("read", &events))?;
                Ok(text.lines().any(|l| l.trim() == "frozen 1"))
            }
        }
    }
}

/// Freezes the group and waits until every task is stopped.
pub fn freeze(cgroup: &Cgroup) -> Result<Frozen> {
    let control = Control::of(cgroup).ok_or_else(|| crate::error::Error::Checkpoint {
        verb: "checkpoint",
        name: cgroup.name().to_owned(),
        message: "this host has no freezer cgroup (v1 freezer controller or v2 cgroup.freeze)"
            .to_owned(),
    })?;
    let since = Instant::now();
    control.request(true)?;
    // From here on a failure thaws (the guard).
    let frozen = Frozen {
        control,
        thaw_on_drop: true,
        since,
    };
    let deadline = since + FREEZE_TIMEOUT;
    let mut pause = Duration::from_micros(200);
    while !frozen.control.is_frozen()? {
        if Instant::now() > deadline {
            return Err(crate::error::Error::Checkpoint {
                verb: "checkpoint",
                name: cgroup.name().to_owned(),
                message: format!(
                    "the cgroup did not freeze within {} s (a task in uninterruptible sleep, \
                     such as one waiting on a hung NFS mount?); it was thawed again",
                    FREEZE_TIMEOUT.as_secs()
                ),
            });
        }
        // v1 stays FREEZING while a task is busy in the kernel; asking again retries it.
        if matches!(frozen.control, Control::V1(_)) {
            frozen.control.request(true)?;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(frozen)
}

/// The directory CRIU's `--freeze-cgroup` takes for the group, when the host has a freezer.
pub fn freezer_dir(cgroup: &Cgroup) -> Option<PathBuf> {
    Control::of(cgroup).map(|c| c.dir())
}

/// Thaws the group whatever froze it: after a pre-dump round, whose own freeze CRIU lifts
/// itself, so that no failure of CRIU's leaves the container stopped.
pub fn ensure_thawed(cgroup: &Cgroup) -> Result<()> {
    match Control::of(cgroup) {
        Some(control) => control.request(false),
        None => Ok(()),
    }
}

impl Frozen {
    /// The cgroup directory to hand CRIU (`--freeze-cgroup`): finding it frozen, CRIU leaves it
    /// frozen when it is done, so the thaw stays ours.
    pub fn dir(&self) -> PathBuf {
        self.control.dir()
    }

    /// Thaws now.
    pub fn thaw(mut self) -> Result<()> {
        self.thaw_on_drop = false;
        self.control.request(false)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if self.thaw_on_drop {
            let _ = self.control.request(false);
        }
    }
}
