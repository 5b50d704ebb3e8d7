//! A live move's pre-dump rounds on the source: while the container runs, CRIU copies its
//! memory into `<move dir>/pre-N` (`criu pre-dump --track-mem`; round 1 all of it, each later
//! round with `--prev-images-dir ../pre-N-1` only the pages dirtied since), so that the final
//! dump, frozen, writes only the last dirty pages and names the last round as its parent
//! (`dump.rs`). CRIU freezes the cgroup itself just long enough to collect the pages and thaws
//! it before it writes them; fleet-node thaws it again after every round, so no failure of
//! CRIU's leaves the container stopped.
//!
//! A restore reads the chain through each directory's `parent` link (CRIU makes them on the
//! source; the target makes its own, `transfer/`): the rounds live inside the final dump's
//! directory, so a user-namespaced restore, opened to the directory, reaches them too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::dump::{last_errors, tree_args};
use super::{criu, failure, freeze, working_criu};
use crate::container::{Found, Runtime};
use crate::error::{Error, Result, io_err};

/// CRIU's log of a pre-dump round, in the round's directory.
const PRE_DUMP_LOG: &str = "pre-dump.log";
/// Bytes of a memory page in CRIU's page images.
const PAGE: u64 = 4096;

/// What one round wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreDumpReport {
    /// Memory pages written (the size of its `pages-*.img` files in pages).
    pub pages: u64,
    /// How long CRIU took.
    pub took: Duration,
}

/// The name of round `round`'s directory inside a dump's directory (`pre-1`, ...): the final
/// dump's `--prev-images-dir`, and what its `parent` link names.
pub fn round_name(round: u32) -> String {
    format!("pre-{round}")
}

/// The rounds' directories inside `dir`, in order (none for a dump made without pre-dumps).
pub fn rounds(dir: &Path) -> Vec<PathBuf> {
    (1..)
        .map(|n| dir.join(round_name(n)))
        .take_while(|d| d.is_dir())
        .collect()
}

/// Makes round `round` of `name`'s pre-dumps (running, `found`; the caller holds its lock) in
/// `dir/pre-<round>`, after the rounds before it there. A failure removes the round's directory
/// and leaves the container running.
pub(crate) fn pre_dump(
    runtime: &Runtime,
    name: &str,
    found: &Found,
    dir: &Path,
    round: u32,
) -> Result<PreDumpReport> {
    let fail = failure("pre-dump", name);
    let (binary, _) = working_criu(runtime, "pre-dump", name)?;
    criu::dirty_tracking(&binary).map_err(fail)?;
    if let Some(why) = fleet_protocol::live::why_not_checkpointable(&found.spec) {
        return Err(fail(format!("cannot be checkpointed: {why}")));
    }
    let init = found
        .init
        .ok_or_else(|| Error::NotRunning(name.to_owned()))?;
    let images = dir.join(round_name(round));
    let _ = std::fs::remove_dir_all(&images);
    std::fs::create_dir(&images).map_err(io_err("create directory", &images))?;
    let cgroup = runtime.cgroup(name);
    let freezer = freeze::freezer_dir(&cgroup)
        .ok_or_else(|| fail("this host has no freezer cgroup".into()))?;
    let mut cmd = Command::new(&binary);
    cmd.arg("pre-dump")
        .args(tree_args(runtime, found, init, &images, PRE_DUMP_LOG)?)
        .arg("--track-mem")
        // CRIU freezes the group to seize the tree and thaws it before it writes the pages.
        .arg("--freeze-cgroup")
        .arg(&freezer);
    if round > 1 {
        cmd.arg("--prev-images-dir")
            .arg(format!("../{}", round_name(round - 1)));
    }
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output();
    let took = started.elapsed();
    let thawed = freeze::ensure_thawed(&cgroup);
    let out = out.map_err(io_err("run", &binary))?;
    if !out.status.success() {
        let errors = last_errors(&images.join(PRE_DUMP_LOG));
        let _ = std::fs::remove_dir_all(&images);
        return Err(fail(format!(
            "criu pre-dump failed ({}): {errors}; the container runs on",
            out.status
        )));
    }
    thawed?;
    Ok(PreDumpReport {
        pages: page_bytes(&images) / PAGE,
        took,
    })
}

/// Bytes of the page images CRIU wrote in `dir` (`pages-<n>.img`).
fn page_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("pages-") && name.ends_with(".img")
        })
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_listed_in_order_and_stop_at_the_first_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(rounds(dir.path()).is_empty());
        for n in [1, 2, 4] {
            std::fs::create_dir(dir.path().join(round_name(n))).unwrap();
        }
        assert_eq!(
            rounds(dir.path()),
            vec![dir.path().join("pre-1"), dir.path().join("pre-2")]
        );
    }

    #[test]
    fn pages_are_counted_from_the_page_images_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pages-1.img"), vec![0u8; 3 * 4096]).unwrap();
        std::fs::write(dir.path().join("pages-2.img"), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.path().join("pagemap-1.img"), vec![0u8; 999]).unwrap();
        assert_eq!(page_bytes(dir.path()) / PAGE, 4);
    }
}
