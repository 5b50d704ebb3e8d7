//! Test harness: real OpenSSH servers on 127.0.0.x, each with its own port, host key and
//! authorized test key, and a fleet host entry for each with its own fleet-node root and cgroup
//! parent. Every sshd is killed by its PID when the harness is dropped.
//!
//! Needs /usr/sbin/sshd and ssh-keygen (scripts/test installs openssh-server) and root (sshd
//! runs as root to log root in). Without them a test fails when CI=true, else it is skipped with
//! a printed reason: see [`prerequisites`].

#![allow(dead_code)]

// By `#[path]` from here, so that the benches, which include this file alone
// (examples/support/mod.rs), have it too.
#[path = "command.rs"]
mod command;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleet::model::{Host, HostKeyPolicy, NodeSettings, SshTarget, Transport};

/// Why the SSH tests cannot run here, if they cannot.
pub fn prerequisites() -> Option<String> {
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("/usr/sbin/sshd is missing (apt-get install openssh-server)".into());
    }
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        return Some("ssh-keygen is missing (apt-get install openssh-client)".into());
    }
    if !nix_is_root() {
        return Some("sshd tests need root".into());
    }
    None
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Returns true (after printing why) when the test should be skipped; panics instead under CI.
pub fn skip_unless_ready() -> bool {
    let mut missing = prerequisites();
    if missing.is_none() && fleet_node().is_none() {
        missing = Some(format!(
            "the fleet-node binary is not built next to the tests ({}); run `cargo test --workspace`",
            target_dir().join("fleet-node").display()
        ));
    }
    match missing {
        None => false,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("prerequisite missing under CI: {why}")
        }
        Some(why) => {
            eprintln!("skipped: {why}");
            true
        }
    }
}

/// target/debug (or release), where cargo puts the workspace's binaries.
pub fn target_dir() -> PathBuf {
    command::profile_dir()
}

/// The fleet-node binary next to the tests, if built.
pub fn fleet_node() -> Option<PathBuf> {
    let p = target_dir().join("fleet-node");
    p.exists().then_some(p)
}

fn keygen(path: &Path) {
    command::stdout_of(
        "ssh-keygen",
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "fleet-test", "-f"])
            .arg(path),
    );
}

/// A short random suffix for names that must not clash between tests.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", std::process::id(), nanos)
}

/// One running sshd.
pub struct Sshd {
    /// 127.0.0.x.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// Its host public key, OpenSSH form.
    pub host_key: String,
    config: PathBuf,
    child: Option<Child>,
}

impl Sshd {
    fn start(dir: &Path, index: usize, authorized: &Path, env: &str) -> Sshd {
        let address = format!("127.0.0.{}", index + 2);
        let key = dir.join(format!("host_key_{index}"));
        keygen(&key);
        let host_key = std::fs::read_to_string(key.with_extension("pub"))
            .expect("host public key")
            .trim()
            .to_string();
        let port = free_port(&address);
        let config = dir.join(format!("sshd_config_{index}"));
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:{port}\n\
                 HostKey {key}\n\
                 AuthorizedKeysFile {auth}\n\
                 PidFile none\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 PermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 SetEnv {env}\n\
                 LogLevel ERROR\n",
                key = key.display(),
                auth = authorized.display(),
            ),
        )
        .expect("write sshd_config");
        let mut sshd = Sshd {
            address,
            port,
            host_key,
            config,
            child: None,
        };
        sshd.resume();
        sshd
    }

    /// Starts (again) on the same address, port and host key.
    pub fn resume(&mut self) {
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-E")
            .arg(self.config.with_extension("log"))
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((self.address.as_str(), self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(self.config.with_extension("log"));
                panic!(
                    "sshd on {}:{} exited: {status}: {}",
                    self.address,
                    self.port,
                    log.unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd on {}:{} did not listen within 10s",
                self.address,
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the listening sshd by its PID (sessions already open live in their own processes,
    /// which end when the connection does).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// PID of the listening sshd.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port(address: &str) -> u16 {
    let l = TcpListener::bind((address, 0)).expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Several sshds, a test key they all accept, and a known_hosts file listing their keys.
pub struct Cluster {
    /// Temporary directory holding keys, configs and node roots.
    pub dir: tempfile::TempDir,
    /// The servers.
    pub sshds: Vec<Sshd>,
    /// Private key of the test client.
    pub identity: PathBuf,
    /// known_hosts listing every sshd.
    pub known_hosts: PathBuf,
    /// Prefix of the cgroup parents of this cluster's nodes.
    pub cgroup_prefix: String,
}

impl Cluster {
    /// Starts `n` sshds on 127.0.0.2, .3, ...
    pub fn start(n: usize) -> Cluster {
        Self::start_with_env(n, &[])
    }

    /// [`Cluster::start`], or `None` when the test is to be skipped ([`skip_unless_ready`],
    /// which fails it instead under CI=true).
    pub fn start_if_ready(n: usize) -> Option<Cluster> {
        (!skip_unless_ready()).then(|| Self::start(n))
    }

    /// [`Cluster::start`] with more variables in the environment of what the sshds run (each
    /// `NAME=VALUE` without spaces), such as `FLEET_NODE_CRIU` for the nodes.
    pub fn start_with_env(n: usize, env: &[String]) -> Cluster {
        Self::start_with_host_env(n, |_, _| env.to_vec())
    }

    /// [`Cluster::start_with_env`] with each sshd's own variables: `env(i, dir)` for the sshd of
    /// host `i`, `dir` being the cluster's temp dir (for files the test writes there after).
    pub fn start_with_host_env(n: usize, env: impl Fn(usize, &Path) -> Vec<String>) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let identity = dir.path().join("id_test");
        keygen(&identity);
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(identity.with_extension("pub"), &authorized).expect("authorized_keys");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home dir");
        let sshds: Vec<Sshd> = (0..n)
            .map(|i| {
                let env: String = std::iter::once(format!("HOME={}", home.display()))
                    .chain(env(i, dir.path()))
                    .collect::<Vec<_>>()
                    .join(" ");
                Sshd::start(dir.path(), i, &authorized, &env)
            })
            .collect();
        let known_hosts = dir.path().join("known_hosts");
        let lines: String = sshds
            .iter()
            .map(|s| format!("[{}]:{} {}\n", s.address, s.port, s.host_key))
            .collect();
        std::fs::write(&known_hosts, lines).expect("known_hosts");
        Cluster {
            dir,
            sshds,
            identity,
            known_hosts,
            cgroup_prefix: format!("fleet-test-{}", unique()),
        }
    }

    /// Host entries named `node-0`, `node-1`, ... with their own node root and cgroup parent,
    /// verified against this cluster's known_hosts.
    pub fn hosts(&self) -> Vec<Host> {
        let node = fleet_node()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/nonexistent/fleet-node".into());
        (0..self.sshds.len())
            .map(|i| {
                self.host(
                    i,
                    HostKeyPolicy::KnownHosts {
                        path: Some(self.known_hosts.clone()),
                    },
                    &node,
                )
            })
            .collect()
    }

    /// The `hosts:` entries of a spec for the first `count` of [`Cluster::hosts`], as YAML list
    /// items indented by two, each with `capacity` as written (a flow mapping such as
    /// `{cpus: 64, memory: 64Gi}`).
    pub fn hosts_yaml(&self, count: usize, capacity: &str) -> String {
        let mut yaml = String::new();
        for h in self.hosts().into_iter().take(count) {
            let Transport::Ssh(t) = &h.transport else {
                unreachable!("the cluster's hosts are ssh hosts")
            };
            yaml.push_str(&format!(
                "  - name: {name}\n    transport: ssh\n    address: {addr}\n    port: {port}\n    \
                 user: root\n    identity_file: {id}\n    known_hosts: {kh}\n    \
                 capacity: {capacity}\n    node:\n      path: {path}\n      \
                 root: {root}\n      cgroup_parent: {cg}\n",
                name = h.name,
                addr = t.address,
                port = t.port,
                id = self.identity.display(),
                kh = self.known_hosts.display(),
                path = h.node.path,
                root = h.node.root,
                cg = h.node.cgroup_parent,
            ));
        }
        yaml
    }

    /// One host entry with a chosen key policy and node binary path.
    pub fn host(&self, i: usize, host_key: HostKeyPolicy, node_path: &str) -> Host {
        let s = &self.sshds[i];
        Host {
            name: format!("node-{i}"),
            transport: Transport::Ssh(SshTarget {
                address: s.address.clone(),
                port: s.port,
                user: "root".into(),
                identity_file: Some(self.identity.clone()),
                host_key,
            }),
            labels: Default::default(),
            capacity: Default::default(),
            overcommit: Default::default(),
            node: NodeSettings {
                path: node_path.into(),
                root: self
                    .dir
                    .path()
                    .join(format!("node-{i}"))
                    .display()
                    .to_string(),
                cgroup_parent: format!("{}-{i}", self.cgroup_prefix),
            },
        }
    }
}
