//! The beancounters beyond memory, cpu, pids and disk, under real load inside a container:
//! shared memory (shmpages), mlocked memory (lockedpages), kernel memory (kmemsize), TCP
//! buffers (tcpsockbuf on v1), open files (numfile), pseudo-terminals (numpty), file locks
//! (numflock) and queued signals (numsiginfo) each rise while a process inside holds them, and
//! fall back when it lets go. Read through the real `fleet-node counters -o json`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use support::Node;

/// Holds every kind of resource at once, prints "ready", and lets go when stdin closes.
const LOAD: &str = r#"
import ctypes, fcntl, mmap, os, pty, resource, signal, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
# shared memory: 16 MiB in a memfd (shmem)
fd = os.memfd_create("shm")
os.write(fd, b"x" * (16 << 20))
held.append(fd)
# mlocked memory: 2 MiB (within the default RLIMIT_MEMLOCK of 8 MiB)
m = mmap.mmap(-1, 2 << 20)
m.write(b"y" * (2 << 20))
libc = ctypes.CDLL(None, use_errno=True)
libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
addr = ctypes.c_void_p.from_buffer(m)
if libc.mlock(ctypes.addressof(addr), ctypes.c_size_t(2 << 20)) != 0:
    sys.exit("mlock: %d" % ctypes.get_errno())
# TCP buffers: 4 MiB sent over loopback and never read
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname())
peer, _ = srv.accept()
cli.setblocking(False)
sent = 0
try:
    while sent < (4 << 20):
        sent += cli.send(b"z" * 65536)
except BlockingIOError:
    pass
held += [srv, cli, peer]
# open files: 2000 more
held += [open("/dev/null") for _ in range(2000)]
# pseudo-terminals: 3 pairs
held += [pty.openpty() for _ in range(3)]
# file locks: 4 flocks on files of its own
for i in range(4):
    f = open("/tmp/lock%d" % i, "w"); fcntl.flock(f, fcntl.LOCK_EX); held.append(f)
# queued signals: 5 real-time signals blocked and queued
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
for _ in range(5):
    os.kill(os.getpid(), signal.SIGRTMIN)
print("ready", flush=True)
sys.stdin.read()
"#;

fn rows(node: &Node, name: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&node.ok(&["counters", name, "-o", "json"])).expect("counters json");
    all[0]["counters"].clone()
}

fn held(rows: &serde_json::Value, resource: &str) -> u64 {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == resource)
        .unwrap_or_else(|| panic!("no {resource} row in {rows}"))["held"]
        .as_u64()
        .unwrap()
}

#[test]
fn each_counter_moves_under_load_inside_and_falls_back() {
    let Some(node) = Node::new() else { return };
    if !std::path::Path::new("/usr/bin/python3").exists() {
        support::cannot_run("python3 (the load runs with the host template)");
        return;
    }
    node.ok(&[
        "create",
        "bean",
        "--template",
        "host",
        "--",
        "/bin/sleep",
        "infinity",
    ]);
    let idle = rows(&node, "bean");
    let mut load = node
        .command(&["exec", "bean", "--", "python3", "-c", LOAD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(load.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the load must set itself up");
    let busy = rows(&node, "bean");
    let rise = |resource: &str| held(&busy, resource).saturating_sub(held(&idle, resource));
    assert!(
        rise("shmpages") >= 4096,
        "16 MiB of memfd is 4096 pages: {busy}"
    );
    assert!(
        rise("lockedpages") >= 512,
        "2 MiB mlocked is 512 pages: {busy}"
    );
    assert!(
        rise("kmemsize") > 0,
        "sockets, files and ptys cost kernel memory: {busy}"
    );
    let sock = if busy
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resource"] == "tcpsockbuf")
    {
        "tcpsockbuf"
    } else {
        "sockbuf"
    };
    assert!(
        rise(sock) >= 64 << 10,
        "unread TCP data is held in buffers: {busy}"
    );
    assert!(rise("numfile") >= 2000, "{busy}");
    assert!(rise("numpty") >= 3, "{busy}");
    assert_eq!(rise("numflock"), 4, "{busy}");
    assert!(rise("numsiginfo") >= 5, "{busy}");

    // The text view has the same rows, in /proc/user_beancounters' layout.
    let text = node.ok(&["counters", "bean"]);
    for resource in [
        "shmpages",
        "lockedpages",
        "kmemsize",
        sock,
        "numfile",
        "numpty",
        "numflock",
        "numsiginfo",
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().any(|w| w == resource)),
            "{resource}: {text}"
        );
    }

    drop(load.stdin.take());
    load.wait().unwrap();
    let after = rows(&node, "bean");
    for resource in ["numfile", "numpty", "numflock", "numsiginfo"] {
        assert!(
            held(&after, resource) < held(&busy, resource),
            "{resource} falls back when the load exits: {after}"
        );
    }
    assert!(
        held(&after, "shmpages") < held(&busy, "shmpages"),
        "{after}"
    );
    node.ok(&["destroy", "bean"]);
}
