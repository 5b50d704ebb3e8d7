//! The swap beancounter under a real load (issue 15): a container limited to 32Mi of memory and
//! 32Mi of swap holds 48Mi, so the kernel swaps its overflow out. `fleet-node counters` shows
//! swap held and maxheld above zero (memsw less memory on v1, `memory.swap.*` on v2), the
//! holding process's own `VmSwap` agrees, and a second load past memory plus swap is refused:
//! the swap row's failcnt (`memory.memsw.failcnt` on v1, `memory.swap.events max` on v2) rises.
//!
//! This host has no swap of its own, so the test adds one: a 128 MiB file of its own, `swapon`
//! for the test's length and `swapoff` (then removed) by a guard's Drop, even when the test
//! fails. A file left active by a killed run (its pid in the name, gone) is taken off first.
//! Swap is host-wide: while the test runs other cgroups may swap into it too, which changes
//! nothing they check (a hog without a swap limit fills it before the OOM killer comes). The
//! v2 side (`memory.swap.*`) is the VM tier's.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::Node;

const MI: u64 = 1 << 20;

/// Names of the test's swap files, so that a run killed before its Drop can be cleaned up.
const PREFIX: &str = "fleet-swap-test-";

/// A swap file active for the guard's lifetime.
struct SwapFile {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl SwapFile {
    /// Makes and activates a swap file of `size` bytes; `None` after [`support::cannot_run`]
    /// when the kernel or the tools refuse.
    fn on(size: u64) -> Option<SwapFile> {
        take_off_stale();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .unwrap();
        let file = dir.path().join("swap");
        let steps: [(&str, Vec<String>); 3] = [
            (
                "fallocate",
                vec!["-l".into(), size.to_string(), path(&file)],
            ),
            ("mkswap", vec![path(&file)]),
            ("swapon", vec![path(&file)]),
        ];
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        for (tool, args) in steps {
            let out = Command::new(tool).args(&args).output();
            match out {
                Ok(o) if o.status.success() => {}
                other => {
                    support::cannot_run(&format!("{tool} {args:?}: {other:?}"));
                    return None;
                }
            }
        }
        Some(SwapFile { _dir: dir, file })
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        // swapoff brings back what was swapped to the file; the container is gone by now.
        // (The directory goes with the TempDir.)
        let _ = Command::new("swapoff").arg(&self.file).status();
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Takes off swap files of earlier runs whose process is gone (killed before their Drop).
fn take_off_stale() {
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    for name in swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
    {
        let Some(rest) = name.split(PREFIX).nth(1) else {
            continue;
        };
        let pid: Option<i32> = rest.split('-').next().and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| !support::alive(p)) {
            let _ = Command::new("swapoff").arg(name).status();
            if let Some(dir) = Path::new(name).parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The container's swap row from `fleet-node counters -o json`.
fn swap_row(node: &Node, name: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&node.ok(&["counters", name, "-o", "json"])).expect("counters json");
    all[0]["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "swap")
        .unwrap_or_else(|| panic!("no swap row: {all}"))
        .clone()
}

/// The PIDs of the container's processes named `comm`.
fn procs_named(node: &Node, name: &str, comm: &str) -> Vec<i32> {
    let rt = node.runtime();
    let dir = rt
        .cgroup(name)
        .controller_dir("memory")
        .expect("a memory cgroup");
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.parse().ok())
        .filter(|pid: &i32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// Kills the `fleet-node exec` holding the load when the test ends, however it ends.
struct Load(Child);

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn swap_is_held_past_the_memory_limit_and_the_swap_limit_hit_is_counted() {
    // Declared first, dropped last: swapoff after the container is gone, so nothing of it has
    // to come back in under its limit.
    let Some(_swap) = SwapFile::on(128 * MI) else {
        return;
    };
    let Some(node) = Node::new() else { return };
    node.create("sw", &[]);
    node.ok(&["set", "sw", "--memory", "32Mi", "--swap", "32Mi"]);
    let idle = swap_row(&node, "sw");
    assert_eq!(idle["limit"], 32 * MI, "{idle}");
    assert_eq!(idle["failcnt"], 0, "{idle}");

    // dd reads 48Mi of zeros into one buffer, then blocks writing it to a pipe nobody reads:
    // it holds the 48Mi, 16Mi more than the memory limit, so the kernel swaps the rest out.
    let _load = Load(
        node.command(&[
            "exec",
            "sw",
            "--",
            "sh",
            "-c",
            "dd if=/dev/zero bs=48M count=1 | sleep 1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    // Not a timing assertion: how long the swapping takes does not matter, only that it ends.
    let deadline = Instant::now() + Duration::from_secs(120);
    let held = loop {
        let row = swap_row(&node, "sw");
        if row["held"].as_u64().unwrap() >= 12 * MI {
            break row;
        }
        assert!(Instant::now() < deadline, "never swapped: {row}");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("held past the memory limit: {held}");
    assert!(
        held["maxheld"].as_u64().unwrap() >= held["held"].as_u64().unwrap(),
        "{held}"
    );
    assert!(held["held"].as_u64().unwrap() <= 32 * MI, "{held}");
    // What a user checks: the process inside has its pages in swap, and is still alive.
    let dd = procs_named(&node, "sw", "dd");
    assert_eq!(dd.len(), 1, "one dd holds the memory");
    let vm_swap = support::proc_status(dd[0], "VmSwap");
    let kib: u64 = vm_swap
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("VmSwap {vm_swap}"));
    assert!(kib >= 8 << 10, "dd's own VmSwap: {vm_swap}");
    assert_eq!(
        held["failcnt"], 0,
        "nothing reached the swap limit yet: {held}"
    );

    // 48Mi held and 40Mi more asked for: past the 64Mi of memory and swap together. The
    // charge fails (failcnt) and the OOM killer ends one of the two.
    let out = node.run(&[
        "exec",
        "sw",
        "--",
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=40M count=1",
    ]);
    let hit = swap_row(&node, "sw");
    let cgroup = node.runtime().cgroup("sw");
    let dir = cgroup.controller_dir("memory").unwrap();
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    let keyed = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {text}"))
    };
    let v1 = dir.join("memory.memsw.failcnt").exists();
    let (kernel, oom_kills) = match v1 {
        true => (
            read("memory.memsw.failcnt").trim().parse::<u64>().unwrap(),
            keyed(&read("memory.oom_control"), "oom_kill"),
        ),
        false => (
            keyed(&read("memory.swap.events"), "max"),
            keyed(&read("memory.events"), "oom_kill"),
        ),
    };
    eprintln!("at the swap limit: {hit}, kernel count {kernel}, OOM kills {oom_kills}");
    assert!(oom_kills >= 1, "the OOM killer ended a dd: {hit}; {out:?}");
    // Swap was full: its peak is the swap limit (to a few pages).
    let peak = hit["maxheld"].as_u64().unwrap();
    assert!((30 * MI..=32 * MI).contains(&peak), "{hit}");
    match hit["failcnt"].as_u64() {
        Some(n) => {
            assert!(
                n > 0,
                "the swap limit was hit: {hit}; the second dd: {out:?}"
            );
            assert_eq!(n, kernel, "the row is the kernel's count");
        }
        // v1 on a kernel that counts memsw hits no more (this host's 6.18): memsw.failcnt reads
        // 0 with the peak at the limit, and the row says "not kept" rather than "never".
        None => {
            assert!(v1 && kernel == 0, "{hit}");
            assert_eq!(
                read("memory.memsw.max_usage_in_bytes").trim(),
                read("memory.memsw.limit_in_bytes").trim(),
                "the memsw peak is the limit"
            );
        }
    }
    assert!(node.status("sw")["state"] == "running", "init survives");
    node.ok(&["destroy", "sw"]);
}
