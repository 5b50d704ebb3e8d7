//! Checkpoint and restore with CRIU, for real: a bridged busybox container whose init keeps an
//! in-memory counter and streams it over an established TCP connection to a listener the test
//! runs on the node's side (a network namespace of the test's own). After `checkpoint` (which
//! stops it) and `restore`, the counter goes on from where it was, over the same connection,
//! in the same cgroup with the same limit, with a new init recorded, and its destroy leaves no
//! cgroup (in any hierarchy), mount or process behind. Unprivileged (the default) and
//! privileged. A dump that fails thaws the container and leaves it running.

mod network_support;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use fleet_protocol::{ContainerSpec, NetworkMode, NetworkSpec, TemplateRef};
use network_support::{TestNetns, prerequisites};
use node_runtime::checkpoint::{self, CheckpointOptions};
use support::Node;

const MEMORY: u64 = 64 << 20;

fn counter_spec(name: &str, net: u8, port: u16, privileged: bool) -> ContainerSpec {
    // The counter lives in the shell's memory; each value also goes to /tmp/counter and down
    // the TCP connection nc holds to the node's side. The file is written new and renamed over
    // the old one: `echo > file` truncates first, and a read between could find it empty.
    let script = format!(
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; \
         mv /tmp/counter.new /tmp/counter; echo $i; sleep 0.1; done | nc 10.84.{net}.1 {port}"
    );
    ContainerSpec {
        resources: fleet_protocol::Resources {
            memory: Some(MEMORY),
            ..Default::default()
        },
        network: NetworkSpec {
            mode: NetworkMode::Bridged,
            bridge: Some(format!("flcp{net}")),
            addresses: vec![format!("10.84.{net}.2/24")],
            gateway: Some(format!("10.84.{net}.1")),
        },
        privileged,
        ..ContainerSpec::new(
            "criutest",
            name,
            TemplateRef::Busybox,
            vec!["/bin/sh".into(), "-c".into(), script],
        )
    }
}

/// The lines of a CRIU log before its first error, for a failure's message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("Error") && !l.contains("RLIMIT_NOFILE"))
        .unwrap_or(lines.len());
    lines[first.saturating_sub(30)..(first + 3).min(lines.len())].join("\n")
}

/// Reads numbers from the connection until one reaches `at_least`; returns all read.
fn read_until(lines: &mut impl BufRead, at_least: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.last().is_none_or(|&n| n < at_least) {
        assert!(Instant::now() < deadline, "counter stalled at {seen:?}");
        let mut line = String::new();
        let n = lines.read_line(&mut line).expect("read from the container");
        assert!(n > 0, "the connection closed after {seen:?}");
        seen.push(line.trim().parse().expect("a number"));
    }
    seen
}

fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the container never connected");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn memory_limit(node: &Node, name: &str) -> u64 {
    let dir = node
        .runtime()
        .cgroup(name)
        .controller_dir("memory")
        .or_else(|| node.cgroup_dirs(name).into_iter().next())
        .unwrap();
    ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn in_cgroup(pid: i32, parent: &str, name: &str) -> bool {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .any(|l| l.ends_with(&format!("/{parent}/{name}")) && l.contains("memory"))
}

fn live_checkpoint_and_restore_keep_counter_and_connection(privileged: bool, net: u8) {
    if !prerequisites() {
        return;
    }
    let Some(node) = Node::new() else { return };
    let Some(criu) = support::criu() else { return };
    let host = TestNetns::new();
    let mut runtime = node.runtime();
    runtime.criu = Some(criu);
    let port = 20000 + (std::process::id() % 20000) as u16 + u16::from(net);
    let name = format!("cp{net}");
    let spec = counter_spec(&name, net, port, privileged);
    // The listener lives in the test's namespace, where the node's bridge will be.
    let listener = host.run(|| TcpListener::bind(("0.0.0.0", port)).unwrap());
    host.run(|| runtime.create(&spec)).expect("create");
    let stream = accept(&listener);
    let mut lines = BufReader::new(stream.try_clone().unwrap());
    let before = read_until(&mut lines, 5);
    let old_pid = node.init_pid(&name);

    let images = tempfile::tempdir().unwrap();
    let dir = images.path().join("images");
    let report = host
        .run(|| checkpoint::checkpoint(&runtime, &name, &dir, &CheckpointOptions::default()))
        .expect("checkpoint");
    assert!(!report.left_running);
    assert!(report.image_bytes > 0);
    let mode = std::fs::metadata(&dir).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o700
    );
    assert_eq!(node.status(&name)["state"], "stopped");
    assert!(!support::alive(old_pid), "the dumped init is gone");

    let restored = host
        .run(|| checkpoint::restore(&runtime, &name, &dir))
        .unwrap_or_else(|e| panic!("restore: {e}\n{}", log_tail(&dir.join("restore.log"))));
    eprintln!(
        "restore of {name} (privileged: {privileged}) took {} ms",
        restored.restore.as_millis()
    );
    assert_eq!(
        node.init_pid(&name),
        restored.init_pid,
        "state records the new init"
    );
    assert_ne!(restored.init_pid, old_pid);
    assert!(
        in_cgroup(restored.init_pid, &node.parent, &name),
        "init is back in its own cgroup"
    );
    assert_eq!(memory_limit(&node, &name), MEMORY, "with its limit");

    // The same connection carries on counting from where the dump stopped it.
    let last = *before.last().unwrap();
    let after = read_until(&mut lines, last + 5);
    let all: Vec<u64> = before.iter().chain(&after).copied().collect();
    assert!(
        all.windows(2).all(|w| w[1] == w[0] + 1),
        "the counter went on without a reset or a gap: {all:?}"
    );
    let inside: u64 = node
        .exec(&name, &["cat", "/tmp/counter"])
        .trim()
        .parse()
        .unwrap();
    assert!(inside > last, "{inside} <= {last}");
    // And it works the other way: what the node's side sends, nc writes to the console log.
    (&stream).write_all(b"hello-after-restore\n").unwrap();
    let log = node.container_dir(&name).join("console.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("hello-after-restore")
    {
        assert!(
            Instant::now() < deadline,
            "the message never reached the container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let no_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !no_mounts.contains(node.root.path().to_str().unwrap()),
        "no mount of the container's is left in the host's namespace"
    );
    host.run(|| runtime.destroy(&name)).expect("destroy");
    // Nothing of it is left: no group of the test's parent in any hierarchy (the unified and
    // name=systemd ones included, where CRIU once recreated the host's whole tree), no mount,
    // no process of either init.
    let left = node.leftovers();
    assert!(left.is_empty(), "left after destroy: {left:#?}");
    assert!(!support::alive(old_pid) && !support::alive(restored.init_pid));
}

#[test]
fn an_unprivileged_container_is_restored_with_its_counter_and_tcp_connection() {
    live_checkpoint_and_restore_keep_counter_and_connection(false, 1);
}

#[test]
fn a_privileged_container_is_restored_with_its_counter_and_tcp_connection() {
    live_checkpoint_and_restore_keep_counter_and_connection(true, 2);
}

/// A criu that passes `check` and fails every dump: the stand-in for a dump CRIU gives up on.
fn failing_criu(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("criu");
    std::fs::write(
        &path,
        "#!/bin/sh\ncase \"$1\" in\n  --version) echo 'Version: 4.2' ;;\n  check) echo 'Looks good.' ;;\n  *) echo 'Error (criu/cr-dump.c:1): injected failure' >&2; exit 1 ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_failed_dump_thaws_the_container_and_leaves_it_running() {
    let Some(node) = Node::new() else { return };
    node.ok(&[
        "create",
        "thaw1",
        "--template",
        "busybox",
        "--",
        "/bin/sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; \
         mv /tmp/counter.new /tmp/counter; sleep 0.1; done",
    ]);
    let pid = node.init_pid("thaw1");
    let tools = tempfile::tempdir().unwrap();
    let fake = failing_criu(tools.path());
    let images = tools.path().join("images");
    let err = node.fails(&[
        "--criu",
        fake.to_str().unwrap(),
        "checkpoint",
        "thaw1",
        images.to_str().unwrap(),
    ]);
    assert!(err.contains("criu dump failed"), "{err}");
    assert!(err.contains("thawed"), "{err}");
    assert_eq!(node.init_pid("thaw1"), pid, "still the same init");
    let freezer = node
        .runtime()
        .cgroup("thaw1")
        .controller_dir("freezer")
        .map(|d| std::fs::read_to_string(d.join("freezer.state")).unwrap());
    if let Some(state) = freezer {
        assert_eq!(state.trim(), "THAWED");
    }
    let a: u64 = node
        .exec("thaw1", &["cat", "/tmp/counter"])
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let b: u64 = node
        .exec("thaw1", &["cat", "/tmp/counter"])
        .trim()
        .parse()
        .unwrap();
    assert!(
        b > a,
        "the counter runs on after the failed dump ({a} then {b})"
    );
}

#[test]
fn bad_checkpoint_directories_are_refused_and_nothing_changes() {
    let Some(node) = Node::new() else { return };
    let Some(_) = support::criu() else { return };
    let pid = node.create_running("bad1");
    let inside = node.root.path().join("checkpoints");
    let err = node.fails(&["checkpoint", "bad1", inside.to_str().unwrap()]);
    assert!(err.contains("inside the node's store"), "{err}");
    let err = node.fails(&["checkpoint", "bad1", "relative/dir"]);
    assert!(err.contains("absolute path"), "{err}");
    let full = tempfile::tempdir().unwrap();
    std::fs::write(full.path().join("x"), "").unwrap();
    let err = node.fails(&["checkpoint", "bad1", full.path().to_str().unwrap()]);
    assert!(err.contains("not empty"), "{err}");
    let err = node.fails(&["restore", "bad1", full.path().to_str().unwrap()]);
    assert!(err.contains("running"), "{err}");
    assert_eq!(node.init_pid("bad1"), pid);
}
