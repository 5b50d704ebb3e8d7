//! Test helpers that drive the real `fleet` binary against a [`Cluster`]: writing spec files for
//! its hosts, running commands, reading containers back, and a guard that destroys what a test
//! created and removes its cgroups even when the test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::sshd::Cluster;

/// The `fleet` binary under test.
pub fn fleet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_fleet")
}

/// A container set pinned to one host: `<prefix>-{01..count}` on `node-<host>`.
pub struct Set {
    /// Name prefix.
    pub prefix: String,
    /// How many.
    pub count: usize,
    /// Host index.
    pub host: usize,
    /// Memory limit (`32Mi`).
    pub memory: String,
}

/// Writes a spec for fleet `fleet` over the cluster's hosts with the given sets; returns its path.
pub fn write_spec(cluster: &Cluster, file: &str, fleet: &str, sets: &[Set]) -> PathBuf {
    let mut containers = String::new();
    for s in sets {
        containers.push_str(&format!(
            "  - name: {p}-{{01..{n:02}}}\n    template: busybox\n    \
             command: [\"/bin/sleep\", \"1000000\"]\n    host: node-{h}\n    \
             resources:\n      memory: {m}\n      cpu: {{limit: 5%}}\n",
            p = s.prefix,
            n = s.count,
            h = s.host,
            m = s.memory,
        ));
    }
    write_spec_yaml(cluster, file, fleet, &containers)
}

/// Writes a spec for fleet `fleet` over the cluster's hosts with the given `containers:` YAML
/// (its entries, indented by two); returns its path.
pub fn write_spec_yaml(cluster: &Cluster, file: &str, fleet: &str, containers: &str) -> PathBuf {
    let mut yaml = format!("apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n");
    yaml.push_str(&cluster.hosts_yaml(cluster.sshds.len(), "{cpus: 64, memory: 64Gi}"));
    yaml.push_str("containers:\n");
    yaml.push_str(containers);
    let path = cluster.dir.path().join(file);
    std::fs::write(&path, yaml).expect("write spec");
    path
}

/// A one-host fleet on this machine (`transport: local`, the real fleet-node, the cluster's
/// temp dir and a cgroup parent of its own) with the given `containers:` YAML. Returns the spec's
/// path and the node's root; the cgroup parent is `<cluster prefix>-local`.
pub fn write_local_spec(cluster: &Cluster, fleet: &str, containers: &str) -> (PathBuf, PathBuf) {
    let node = super::sshd::fleet_node().expect("fleet-node binary");
    let root = cluster.dir.path().join("local-root");
    let cgroup = format!("{}-local", cluster.cgroup_prefix);
    let spec = cluster.dir.path().join("local.yaml");
    std::fs::write(
        &spec,
        format!(
            "apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n  - name: here\n    transport: local\n    \
             capacity: {{cpus: 8, memory: 8Gi}}\n    node:\n      path: {node}\n      root: {root}\n      \
             cgroup_parent: {cgroup}\ncontainers:\n{containers}",
            node = node.display(),
            root = root.display(),
        ),
    )
    .expect("write spec");
    (spec, root)
}

/// A one-host fleet on this machine ([`write_local_spec`]) named `<label>-<unique>`, destroyed
/// (with its cgroups) by its Drop even when the test fails. No sshd is started: the cluster is
/// there for its temp dir and cgroup prefix.
pub struct LocalFleet {
    /// Destroys the fleet; declared first, so it runs before the cluster goes.
    _cleanup: Cleanup,
    /// The cluster of no hosts.
    pub cluster: Cluster,
    /// The fleet's name.
    pub fleet: String,
    /// The spec's path.
    pub spec: PathBuf,
    /// The node's root.
    pub root: PathBuf,
}

impl LocalFleet {
    /// The fleet with the given `containers:` YAML, or `None` when the machine cannot run it
    /// ([`skip_unless_ready`](super::sshd::skip_unless_ready)).
    pub fn new(label: &str, containers: &str) -> Option<LocalFleet> {
        if super::sshd::skip_unless_ready() {
            return None;
        }
        let cluster = Cluster::start(0);
        let fleet = format!("{label}-{}", super::sshd::unique());
        let (spec, root) = write_local_spec(&cluster, &fleet, containers);
        Some(LocalFleet {
            _cleanup: Cleanup::new(&cluster, &[&spec]),
            cluster,
            fleet,
            spec,
            root,
        })
    }
}

/// How long one `fleet` command of a test may run: far beyond any command's time on a loaded
/// machine, so that a hang fails the test with what the command printed instead of holding CI.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(600);

/// `fleet <args>` as the tests run it: without colours, its stdin /dev/null (until the caller
/// sets another).
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(fleet_bin());
    cmd.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    cmd
}

/// Starts `fleet <args>` with stdout and stderr piped, for [`wait_within`].
pub fn spawn(args: &[&str]) -> Child {
    spawn_piped(command(args))
}

fn spawn_piped(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fleet")
}

/// Runs `fleet <args>` and returns its output; panics if it runs past [`COMMAND_LIMIT`].
pub fn run(args: &[&str]) -> Output {
    wait_within(spawn(args), COMMAND_LIMIT, &what(args))
}

/// [`run`] with `input` on fleet's stdin, a pipe closed after it.
pub fn run_with_input(args: &[&str], input: &[u8]) -> Output {
    let mut cmd = command(args);
    cmd.stdin(Stdio::piped());
    let mut child = spawn_piped(cmd);
    let mut stdin = child.stdin.take().expect("stdin piped");
    stdin.write_all(input).expect("write fleet's stdin");
    drop(stdin);
    wait_within(child, COMMAND_LIMIT, &what(args))
}

fn what(args: &[&str]) -> String {
    format!("fleet {}", args.join(" "))
}

/// Waits for `child` (stdout and stderr piped) and returns its output; past `limit` it kills
/// the child and panics with what it printed, so a hang fails the test instead of holding CI.
pub fn wait_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).to_string();
            let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).to_string();
            panic!(
                "{what} still ran after {}s (killed)\n--- stdout ---\n{out}\n--- stderr ---\n{err}",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The lines `child` prints on its stdout (piped), as they come, read by a thread of their own.
pub fn stdout_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs `fleet <verb> -f spec <extra>`; panics with both streams unless the exit code is `want`.
#[track_caller]
pub fn expect(verb: &str, spec: &Path, extra: &[&str], want: i32) -> String {
    let spec = spec.to_str().expect("utf-8 path");
    let mut args = vec![verb, "-f", spec];
    args.extend_from_slice(extra);
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(want),
        "fleet {verb} exited {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status.code()
    );
    stdout
}

/// Runs `fleet <args>`; panics with both streams unless the exit code is `code`. Returns its
/// stderr.
#[track_caller]
pub fn stderr_of(args: &[&str], code: i32) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "fleet {args:?}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Runs `fleet <verb> -f spec <extra>` (a plan or an apply), which must exit 0 with nothing
/// left to do.
#[track_caller]
pub fn expect_no_changes(verb: &str, spec: &Path, extra: &[&str]) {
    let out = expect(verb, spec, extra, 0);
    assert!(out.contains("No changes."), "{out}");
}

/// One container as `fleet get containers -o json` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Host name.
    pub host: String,
    /// Container name.
    pub name: String,
    /// Owning fleet.
    pub fleet: String,
    /// `running`, `stopped`, `broken`.
    pub state: String,
    /// Init PID on the host.
    pub pid: Option<i32>,
}

/// Every container on the spec's hosts.
pub fn containers(spec: &Path) -> Vec<Seen> {
    let out = expect("get", spec, &["containers", "-o", "json"], 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json from get");
    rows.into_iter()
        .map(|r| Seen {
            host: r["host"].as_str().unwrap_or_default().into(),
            name: r["name"].as_str().unwrap_or_default().into(),
            fleet: r["fleet"].as_str().unwrap_or_default().into(),
            state: r["state"].as_str().unwrap_or_default().into(),
            pid: r["init_pid"].as_i64().map(|p| p as i32),
        })
        .collect()
}

/// Destroys every listed fleet's containers through `fleet destroy`, then removes the cluster's
/// cgroup directories: on drop, so a failing test cleans up too.
pub struct Cleanup {
    /// Prefix of the cluster's cgroup parents.
    pub cgroup_prefix: String,
    /// Spec files, one per fleet used.
    pub specs: Vec<PathBuf>,
}

impl Cleanup {
    /// A guard for `cluster` and the fleets of `specs`; declare it after the cluster so that it
    /// runs while the sshds are still up.
    pub fn new(cluster: &Cluster, specs: &[&Path]) -> Cleanup {
        Cleanup {
            cgroup_prefix: cluster.cgroup_prefix.clone(),
            specs: specs.iter().map(|p| p.to_path_buf()).collect(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for spec in &self.specs {
            if let Some(s) = spec.to_str() {
                let out = run(&["destroy", "-f", s, "--yes"]);
                if !out.status.success() {
                    eprintln!(
                        "cleanup: fleet destroy -f {s} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        remove_cgroups(&self.cgroup_prefix);
    }
}

/// Removes every cgroup directory whose top-level name starts with `prefix`, deepest first, in
/// every mounted hierarchy. Processes still in them (containers a failed destroy left, all
/// started by this test) are killed by PID first.
pub fn remove_cgroups(prefix: &str) {
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let Ok(tops) = std::fs::read_dir(c.path()) else {
            continue;
        };
        for top in tops.flatten() {
            if top.file_name().to_string_lossy().starts_with(prefix) {
                remove_tree(&top.path());
            }
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        eprintln!("cleanup: cannot remove cgroup {}: {e}", dir.display());
    }
}

/// PIDs of `pid`'s descendants (children first found through /proc/*/stat).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(child) = p.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
                continue;
            };
            // The command may hold spaces and parentheses: ppid follows the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parent_of.push((child, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// The memory limit of the cgroup holding `pid`, read from the kernel (v1 or v2).
pub fn memory_limit(pid: i32) -> u64 {
    let file = memory_limit_file(pid);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{file}: {text:?}: {e}"))
}

/// The memory limit file of the cgroup holding `pid` (v1 `memory.limit_in_bytes` or v2
/// `memory.max`).
pub fn memory_limit_file(pid: i32) -> String {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if controllers.split(',').any(|c| c == "memory") {
            return format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes");
        }
        if controllers.is_empty() && !std::path::Path::new("/sys/fs/cgroup/memory").exists() {
            return format!("/sys/fs/cgroup{path}/memory.max");
        }
    }
    panic!("no memory cgroup for pid {pid}: {cgroups}");
}
