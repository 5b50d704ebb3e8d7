//! The build lock of a cache directory: whoever holds it builds what the directory lacks, so
//! the tests of one run wait for one build and then share it. Self-contained: fleet-node's
//! portability tests lock the cache of their Debian 11 root with it too (by `#[path]`).

use std::fs;
use std::path::Path;

/// Creates `cache` and takes its exclusive lock (`build.lock` in it), waiting for whoever holds
/// it; the lock is held until the returned file is dropped.
pub fn lock(cache: &Path) -> Result<fs::File, String> {
    fs::create_dir_all(cache).map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let lock_path = cache.join("build.lock");
    let lock = fs::File::create(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    Ok(lock)
}
