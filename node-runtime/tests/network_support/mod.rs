//! Shared set-up for the network tests: a network namespace of the test's own (the "host"
//! side runs on a thread inside it, so the machine's own network is never touched), stand-in
//! containers (`unshare --net sleep`, each in a fresh namespace), and observers that use
//! `ip`, `nsenter` and busybox `ping` rather than the code under test. Every resource sits in a
//! guard that removes it on drop, also when an assertion fails.

#![allow(dead_code)]

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sched::{CloneFlags, setns};

/// True when the test can run; otherwise prints why and returns false, or panics under CI=true.
pub fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !nix::unistd::Uid::effective().is_root() {
        missing.push("root".to_string());
    }
    for tool in ["ip", "unshare", "nsenter", "busybox"] {
        let found = Command::new(tool)
            .arg(if tool == "busybox" { "true" } else { "-V" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            missing.push(tool.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let reason = format!("network tests need {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason} (CI=true, so this fails instead of skipping)");
    }
    eprintln!("skipping: {reason}");
    false
}

/// A unique suffix for names in this test run.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn run_ok(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A named network namespace (`ip netns add fleet-test-...`) deleted on drop.
pub struct TestNetns {
    /// Its name under /run/netns.
    pub name: String,
}

impl TestNetns {
    /// Creates a fresh namespace with loopback up.
    pub fn new() -> Self {
        let name = unique("fleet-test");
        run_ok("ip", &["netns", "add", &name]);
        let ns = TestNetns { name };
        run_ok("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Runs `f` on a thread that has entered this namespace: the code under test sees it as
    /// "the host".
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(self.path()).expect("open test netns");
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).expect("setns into test netns");
                f()
            })
            .join()
            .expect("test netns thread panicked")
        })
    }

    /// Interface names in this namespace, with their kinds (`veth`, `bridge`, or empty).
    pub fn links(&self) -> Vec<(String, String)> {
        links_at(&self.path().to_string_lossy())
    }

    /// Whether `ip` answers one ping from this namespace.
    pub fn ping(&self, ip: &str) -> bool {
        ping_from(&self.path().to_string_lossy(), ip)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A stand-in container: `sleep` in a network namespace of its own; killed on drop.
pub struct FakeContainer {
    child: Child,
}

impl FakeContainer {
    /// Starts it and waits until it has entered its new namespace.
    pub fn start() -> Self {
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "600"])
            .spawn()
            .expect("spawn unshare --net sleep");
        let c = FakeContainer { child };
        let ours = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let theirs = std::fs::read_link(c.ns_path());
            // unshare execs sleep in place, so the pid is stable; it has unshared once its
            // namespace differs from ours and the program is sleep.
            let comm =
                std::fs::read_to_string(format!("/proc/{}/comm", c.pid())).unwrap_or_default();
            if matches!(&theirs, Ok(t) if *t != ours) && comm.trim() == "sleep" {
                break;
            }
            assert!(Instant::now() < deadline, "unshare --net did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        c
    }

    /// The init pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its network namespace file.
    pub fn ns_path(&self) -> String {
        format!("/proc/{}/ns/net", self.pid())
    }

    /// The namespace's identity (`net:[inode]`).
    pub fn ns_id(&self) -> PathBuf {
        std::fs::read_link(self.ns_path()).expect("read container netns link")
    }

    /// Interface names inside, with kinds.
    pub fn links(&self) -> Vec<(String, String)> {
        links_at(&self.ns_path())
    }

    /// Whether `ip` answers one ping from inside.
    pub fn ping(&self, ip: &str) -> bool {
        ping_from(&self.ns_path(), ip)
    }

    /// `ip -o addr show` inside, as printed.
    pub fn addresses(&self) -> String {
        in_netns(&self.ns_path(), &["ip", "-o", "addr", "show"])
    }

    /// `ip -o link show` inside, as printed.
    pub fn link_text(&self) -> String {
        in_netns(&self.ns_path(), &["ip", "-o", "link", "show"])
    }

    /// A sysctl of the container's namespace (`net/ipv4/...`), trimmed.
    pub fn sysctl(&self, key: &str) -> String {
        in_netns(&self.ns_path(), &["cat", &format!("/proc/sys/{key}")])
            .trim()
            .to_string()
    }

    /// `ip -6 route` inside, as printed.
    pub fn routes_v6(&self) -> String {
        in_netns(&self.ns_path(), &["ip", "-6", "route"])
    }

    /// `ip route` inside, as printed.
    pub fn routes(&self) -> String {
        in_netns(&self.ns_path(), &["ip", "route"])
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A MAC address as `ip` prints it.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What `argv` prints when run in the network namespace at `ns_path` (it must succeed).
fn in_netns(ns_path: &str, argv: &[&str]) -> String {
    let net = format!("--net={ns_path}");
    let args: Vec<&str> = std::iter::once(net.as_str())
        .chain(argv.iter().copied())
        .collect();
    String::from_utf8_lossy(&run_ok("nsenter", &args).stdout).into_owned()
}

fn links_at(ns_path: &str) -> Vec<(String, String)> {
    in_netns(ns_path, &["ip", "-d", "-o", "link", "show"])
        .lines()
        .filter_map(|line| {
            // "3: fl1234@if2: <...> ... \    link/ether ... \    veth addrgenmode ..."
            let name = line.split(": ").nth(1)?.split('@').next()?.to_string();
            let kind = ["veth", "bridge"]
                .into_iter()
                .find(|k| line.contains(&format!("\\    {k} ")))
                .unwrap_or("")
                .to_string();
            Some((name, kind))
        })
        .collect()
}

fn ping_from(ns_path: &str, ip: &str) -> bool {
    // A few tries: the first ARP exchange on a fresh bridge port can take a moment.
    (0..3).any(|_| {
        Command::new("nsenter")
            .args([
                &format!("--net={ns_path}"),
                "busybox",
                "ping",
                "-c1",
                "-W1",
                ip,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}
