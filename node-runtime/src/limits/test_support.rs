//! Test helpers for real-kernel limit tests: a throwaway cgroup under each controller
//! (`fleet-test-<pid>-<n>`), processes started inside it, and cleanup in `Drop` even when a test
//! fails. Shared with the counters and disk tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{CgroupDirs, Controller, Dirs, HostCgroups};

/// Whether a prerequisite holds; when it does not, fails under `CI=true` and otherwise prints
/// why the test is skipped.
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("prerequisite missing under CI: {what}");
        }
        eprintln!("skipping: {what}");
    }
    ok
}

/// Limits that set I/O alone.
pub fn io_only(io: fleet_protocol::IoLimits) -> fleet_protocol::Resources {
    fleet_protocol::Resources {
        io,
        ..fleet_protocol::Resources::default()
    }
}

/// A unique name for this test's state.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A cgroup made for one test, removed with everything in it on drop.
pub struct TestCgroup {
    /// Its controller directories.
    pub dirs: Dirs,
    made: Vec<PathBuf>,
    children: Vec<Child>,
}

impl TestCgroup {
    /// A fresh cgroup in every v1 hierarchy of this host, or `None` (with the reason handled by
    /// [`prerequisite`]) when there is none or we are not root.
    pub fn v1() -> Option<TestCgroup> {
        let host = HostCgroups::detect();
        let ok = nix::unistd::geteuid().is_root()
            && [
                Controller::Cpu,
                Controller::Memory,
                Controller::Pids,
                Controller::Cpuset,
            ]
            .iter()
            .all(|c| host.v1.iter().any(|(h, _)| h == c));
        if !prerequisite(
            ok,
            "needs root and cgroup v1 cpu, cpuset, memory and pids hierarchies",
        ) {
            return None;
        }
        let name = unique("fleet-test");
        let dirs = Dirs::new(
            super::CgroupVersion::V1,
            host.v1.iter().map(|(c, m)| (*c, m.join(&name))).collect(),
        );
        Some(TestCgroup::make(dirs))
    }

    /// A fresh cgroup on the host's cgroup2 mount (whatever controllers it has), or `None`.
    pub fn unified() -> Option<TestCgroup> {
        let host = HostCgroups::detect();
        let ok = nix::unistd::geteuid().is_root() && host.unified.is_some();
        if !prerequisite(ok, "needs root and a cgroup2 mount") {
            return None;
        }
        let dir = host.unified.as_ref()?.join(unique("fleet-test"));
        std::fs::create_dir(&dir).expect("mkdir cgroup2 test dir");
        let mut cg = TestCgroup {
            dirs: Dirs::v2(&dir),
            made: vec![dir],
            children: Vec::new(),
        };
        cg.made.dedup();
        Some(cg)
    }

    fn make(dirs: Dirs) -> TestCgroup {
        let mut made: Vec<PathBuf> = Controller::ALL
            .iter()
            .filter_map(|&c| dirs.controller_dir(c))
            .collect();
        made.sort();
        made.dedup();
        for dir in &made {
            std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        if let Some(cpuset) = dirs.controller_dir(Controller::Cpuset) {
            // A v1 cpuset takes no task until it has CPUs and memory nodes.
            let parent = cpuset.parent().unwrap_or(Path::new("/"));
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                std::fs::write(cpuset.join(f), v.trim()).expect("seed cpuset");
            }
        }
        TestCgroup {
            dirs,
            made,
            children: Vec::new(),
        }
    }

    /// Starts `program args` inside the cgroup (it joins before it execs) and returns its PID.
    pub fn spawn(&mut self, program: &str, args: &[&str]) -> u32 {
        let mut child = Command::new("sh")
            .args(["-c", "read _ && exec \"$@\"", "sh", program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        for dir in &self.made {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string())
                .unwrap_or_else(|e| panic!("join {}: {e}", dir.display()));
        }
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("release child");
        self.children.push(child);
        pid
    }

    /// Waits up to `timeout` for the `index`th spawned process to exit; returns its status.
    pub fn wait_exit(
        &mut self,
        index: usize,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.children[index].try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The group's directory on the cgroup2 mount, for one made by [`TestCgroup::unified`].
    pub fn unified_dir(&self) -> &Path {
        &self.made[0]
    }

    /// The directory of `controller`.
    pub fn dir(&self, controller: Controller) -> PathBuf {
        self.dirs
            .controller_dir(controller)
            .unwrap_or_else(|| panic!("no {controller:?} dir"))
    }

    /// Kills every process in the cgroup (only processes this test started live there).
    fn kill_all(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut any = false;
            for dir in &self.made {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    any = true;
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            for child in &mut self.children {
                let _ = child.try_wait();
            }
            if !any || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        self.kill_all();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for dir in &self.made {
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
