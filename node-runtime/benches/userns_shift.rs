//! Benchmark: the owner shift of a `privileged` switch (`userns::shift::shift_tree`) on a
//! system-sized writable layer, both ways (host ids -> a range -> host ids). The tree is a copy
//! of real system directories (`FLEET_BENCH_SHIFT_FROM`, space-separated, default
//! `/usr/lib/x86_64-linux-gnu /usr/share`: about 1.3 GiB and 54k entries here) under
//! `FLEET_BENCH_DIR` (default /var/tmp), removed at the end, also on a panic. The page cache is
//! warm (the copy just read everything); nothing drops the host's caches.
//!
//! Run as root: `cargo bench -p fleet-node --bench userns_shift`. Figures go to
//! docs/decisions.md by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use node_runtime::userns::ids::IdShift;
use node_runtime::userns::shift::shift_tree;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Entries and bytes of the tree (directories and symlinks not followed).
fn size(dir: &Path) -> (u64, u64) {
    let out = Command::new("du").args(["-sxb"]).arg(dir).output().unwrap();
    let bytes = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let out = Command::new("find").arg(dir).arg("-xdev").output().unwrap();
    let entries = out.stdout.iter().filter(|&&b| b == b'\n').count() as u64;
    (entries, bytes)
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("userns_shift bench: run as root (it changes owners)");
        std::process::exit(1);
    }
    let from = std::env::var("FLEET_BENCH_SHIFT_FROM")
        .unwrap_or_else(|_| "/usr/lib/x86_64-linux-gnu /usr/share".into());
    let base = std::env::var("FLEET_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
    let scratch = Scratch(
        tempfile::Builder::new()
            .prefix("fleet-shift-bench-")
            .tempdir_in(&base)
            .unwrap()
            .keep(),
    );
    let tree = scratch.0.join("upper");
    std::fs::create_dir(&tree).unwrap();
    for src in from.split_whitespace() {
        let status = Command::new("cp")
            .args(["-a", "--one-file-system", src])
            .arg(&tree)
            .status()
            .unwrap();
        assert!(status.success(), "cp -a {src}");
    }
    let (entries, bytes) = size(&tree);
    println!(
        "tree: {entries} entries, {:.2} GiB (copies of {from})",
        bytes as f64 / (1u64 << 30) as f64
    );
    let range = 165_536;
    for (what, shift) in [
        (
            "host ids -> range (to unprivileged)",
            IdShift { from: 0, to: range },
        ),
        (
            "range -> host ids (to privileged)",
            IdShift { from: range, to: 0 },
        ),
        (
            "again, nothing to move (a resumed shift)",
            IdShift { from: range, to: 0 },
        ),
    ] {
        let t = Instant::now();
        let done = shift_tree(&tree, shift).unwrap();
        let took = t.elapsed();
        println!(
            "{what}: {:.2} s for {} entries ({:.1} us each), {} unmappable",
            took.as_secs_f64(),
            done.entries,
            took.as_secs_f64() * 1e6 / done.entries.max(1) as f64,
            done.unmappable
        );
    }
}
