//! Shared set-up for the real-kernel tests: a node with its own temp root and its own cgroup
//! parent, driven through the real `fleet-node` binary, torn down (containers, cgroups, files)
//! by its Drop even when the test fails.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use node_runtime::Runtime;

mod serve;
pub mod unified;

#[allow(unused_imports)] // not every test file opens a session
pub use serve::ServeSession;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why the real-kernel tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root".into());
    }
    if !Path::new("/bin/busybox").is_file() {
        return Some("/bin/busybox missing: apt-get install busybox-static".into());
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.contains("overlay") {
        return Some("overlayfs not available".into());
    }
    if !Path::new("/sys/fs/cgroup").is_dir() {
        return Some("no cgroup mount at /sys/fs/cgroup".into());
    }
    None
}

/// Says why a test cannot run here. With CI=true every test must run, so this fails the test;
/// elsewhere it prints why and the caller returns (the test skips).
pub fn cannot_run(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("test cannot run under CI=true: {why}");
    }
    eprintln!("skipping: {why}");
}

/// A criu that passes `criu check` here: `$FLEET_NODE_CRIU` (which `scripts/test` sets to what
/// `scripts/criu` found or built), else `criu` on PATH. `None` after [`cannot_run`] otherwise.
pub fn criu() -> Option<PathBuf> {
    let configured = std::env::var_os("FLEET_NODE_CRIU").map(PathBuf::from);
    match node_runtime::checkpoint::criu::probe(configured.as_deref()) {
        node_runtime::checkpoint::criu::Probe::Works { path, .. } => Some(path),
        other => {
            cannot_run(&format!(
                "no working criu ({other:?}): run scripts/criu, which builds CRIU 4.2, and set \
                 FLEET_NODE_CRIU to the path it prints"
            ));
            None
        }
    }
}

/// The spec tests start from: busybox container `name` of fleet `t`, hostname `h`, that sleeps.
pub fn sleeper(name: &str) -> fleet_protocol::ContainerSpec {
    fleet_protocol::ContainerSpec {
        hostname: "h".into(),
        ..fleet_protocol::ContainerSpec::new(
            "t",
            name,
            fleet_protocol::TemplateRef::Busybox,
            vec!["sleep".into(), "1000".into()],
        )
    }
}

/// The arguments of `create NAME --template busybox FLAGS... [-- COMMAND...]` (without a
/// command, the template's own).
pub fn busybox<'a>(name: &'a str, flags: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["create", name, "--template", "busybox"];
    args.extend_from_slice(flags);
    if !command.is_empty() {
        args.push("--");
        args.extend_from_slice(command);
    }
    args
}

/// A test node: temp root, unique cgroup parent.
pub struct Node {
    pub root: tempfile::TempDir,
    pub parent: String,
}

impl Node {
    /// A fresh node, or `None` (with the reason printed) when prerequisites are missing outside
    /// CI; with CI=true a missing prerequisite fails the test.
    pub fn new() -> Option<Node> {
        if let Some(why) = missing_prerequisite() {
            cannot_run(&format!("real-kernel test: {why}"));
            return None;
        }
        Some(Node::fresh())
    }

    /// [`Node::new`] on a host with loop devices (per-container disks), else `None` after
    /// [`cannot_run`].
    pub fn with_loop_devices() -> Option<Node> {
        let node = Node::new()?;
        if !std::path::Path::new("/dev/loop-control").exists() {
            cannot_run("no loop devices (/dev/loop-control)");
            return None;
        }
        Some(node)
    }

    fn fresh() -> Node {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Node {
            root: tempfile::Builder::new()
                .prefix("fleet-node-test-")
                .tempdir()
                .unwrap(),
            parent: format!("fleet-test-{}-{n}-{nanos:x}", std::process::id()),
        }
    }

    pub fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_fleet-node")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(Self::bin(), args)
    }

    /// [`Node::command`] of another fleet-node binary (a copy of [`Node::bin`]).
    pub fn command_of(&self, bin: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("--root")
            .arg(self.root.path())
            .arg("--cgroup-parent")
            .arg(&self.parent)
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs with `input` on stdin.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_env(args, &[])
    }

    /// [`Node::ok`] with `env` set for fleet-node (its `FLEET_NODE_*` settings).
    pub fn ok_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fleet-node {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Creates busybox container `name` with `flags` (`--stopped`, `--privileged`...), its
    /// template's own command; asserts success.
    pub fn create(&self, name: &str, flags: &[&str]) {
        self.ok(&busybox(name, flags, &[]));
    }

    /// Creates busybox container `name`, running; returns its init's pid.
    pub fn create_running(&self, name: &str) -> i32 {
        self.create(name, &[]);
        self.init_pid(name)
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "fleet-node {args:?} should have failed, printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn status(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", name, "-o", "json"])).unwrap()
    }

    pub fn init_pid(&self, name: &str) -> i32 {
        let s = self.status(name);
        assert_eq!(s["state"], "running", "{name} should run: {s}");
        s["init_pid"].as_i64().unwrap() as i32
    }

    /// Output of a command run inside the container, asserting it succeeded.
    pub fn exec(&self, name: &str, argv: &[&str]) -> String {
        let mut args = vec!["exec", name, "--"];
        args.extend_from_slice(argv);
        self.ok(&args)
    }

    pub fn runtime(&self) -> Runtime {
        Runtime::new(self.root.path(), &self.parent).unwrap()
    }

    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.root.path().join("containers").join(name)
    }

    /// The container's cgroup directory in every hierarchy.
    pub fn cgroup_dirs(&self, name: &str) -> Vec<PathBuf> {
        self.runtime().cgroup(name).dirs()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let rt = self.runtime();
        for name in rt.store.names().unwrap_or_default() {
            let _ = rt.destroy(&name);
        }
        for name in rt.cgroups.children(&self.parent) {
            let cg = rt.cgroup(&name);
            let _ = cg.kill_all(std::time::Duration::from_secs(5));
            let _ = cg.remove();
        }
        rt.cgroups.remove_parent(&self.parent);
        // Whatever is left of the parent in any hierarchy (one fleet-node does not use, or
        // groups a failed restore made), deepest first, its tasks killed by pid.
        for dir in self.parent_dirs() {
            remove_cgroup_tree(&dir);
        }
    }
}

impl Node {
    /// The test's cgroup parent in every hierarchy mounted under /sys/fs/cgroup (`unified` and
    /// `systemd` included) where it exists.
    pub fn parent_dirs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let root = Path::new(node_runtime::cgroups::DEFAULT_MOUNT);
        if root.join(&self.parent).is_dir() {
            found.push(root.join(&self.parent));
        }
        for h in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let dir = h.path().join(&self.parent);
            if !h.file_type().is_ok_and(|t| t.is_symlink()) && dir.is_dir() {
                found.push(dir);
            }
        }
        found
    }

    /// What the node left on the host after its containers were destroyed: cgroup directories
    /// of its parent in any hierarchy, mounts under its root, processes in its groups. Empty
    /// when it cleaned up.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = Vec::new();
        for dir in self.parent_dirs() {
            let mut groups = 0;
            let mut pids = Vec::new();
            walk_cgroups(&dir, &mut |d| {
                groups += 1;
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().map(str::to_owned));
            });
            left.push(format!(
                "cgroup {} ({groups} groups, pids {pids:?})",
                dir.display()
            ));
        }
        let root = self.root.path().to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for line in mounts.lines() {
            if line.split(' ').nth(4).is_some_and(|t| t.starts_with(&root)) {
                left.push(format!("mount {line}"));
            }
        }
        left
    }
}

/// The names of the entries of `dir` (which must be readable), in the order it lists them.
pub fn entry_names(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect()
}

/// Calls `f` on `dir` and every directory below it, deepest last.
fn walk_cgroups(dir: &Path, f: &mut impl FnMut(&Path)) {
    f(dir);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_cgroups(&e.path(), f);
        }
    }
}

/// Removes a cgroup directory and everything below it, deepest first, after killing by pid the
/// tasks in it (all the test's own: the groups are under its unique parent).
pub fn remove_cgroup_tree(dir: &Path) {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&e.path());
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::fs::remove_dir(dir).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The namespace link of a process (`pid:[4026531836]`).
pub fn ns_link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit_once(')').unwrap().1.trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

/// A field of /proc/<pid>/status.
pub fn proc_status(pid: i32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Makes a block device node `major:minor` (0666) at `path`, as a hostile layer would hold one.
pub fn block_node(path: &Path, major: u64, minor: u64) {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFBLK,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .unwrap();
}

/// Plants in `dir` what a hostile tenant leaves for fleet-node to trip over: `evil`, a link to
/// /etc/shadow; `fifo`; `disk`, a node of a host disk ((7, 0), /dev/loop0); `su`, a setuid-root
/// program.
pub fn plant_hostile(dir: &Path) {
    std::os::unix::fs::symlink("/etc/shadow", dir.join("evil")).unwrap();
    nix::unistd::mkfifo(
        &dir.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    block_node(&dir.join("disk"), 7, 0);
    std::fs::copy("/bin/busybox", dir.join("su")).unwrap();
    std::fs::set_permissions(dir.join("su"), std::fs::Permissions::from_mode(0o4755)).unwrap();
}

/// A process's uid_map (as the host sees it) as its three numbers: inside, host base, count.
pub fn uid_map(pid: i32) -> (u64, u64, u64) {
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let f: Vec<u64> = map.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(f.len(), 3, "one mapping line: {map}");
    (f[0], f[1], f[2])
}
