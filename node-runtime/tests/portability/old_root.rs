//! The root file system of an older distribution, made from Debian packages: Debian 11
//! (bullseye, glibc 2.31), the oldest release deb.debian.org still serves (buster and stretch
//! are gone from it). fleet-node's dynamic build needs glibc 2.34, so a binary that runs here
//! does not lean on the host's C library.
//!
//! Built once by mmdebstrap (minbase plus busybox-static, the busybox template's source; message
//! catalogs and /usr/share/doc left out, 40 of 130 MB, while /usr/lib/locale stays for the
//! trace to prove it unread) into a tarball cached at `$FLEET_DISTRO_CACHE/<key>.tar`, else `<target>/tmp/distro-roots/`, keyed
//! by what went into it (this file's text). The build runs under an exclusive lock, so the
//! tests of one run wait for one build and then share it; each test unpacks its own copy.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::command::stdout_of;

// The VM tier's image cache takes the same lock.
#[path = "../../../tests/vm/src/cache.rs"]
mod build_lock;

/// The Debian release.
pub const SUITE: &str = "bullseye";
/// What minbase lacks: busybox for the container template.
pub const INCLUDE: &[&str] = &["busybox-static"];
/// Run in the finished root (`$1`) before it is packed: what no test reads goes.
const SHRINK: &str = "rm -rf \"$1\"/usr/share/locale/* \"$1\"/usr/share/doc/*";

/// Where the tarballs are kept.
fn cache_dir() -> PathBuf {
    match std::env::var_os("FLEET_DISTRO_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("distro-roots"),
    }
}

/// The cache key: the recipe (this file) hashed.
fn key() -> String {
    let digest = Sha256::digest(include_str!("old_root.rs").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{SUITE}-minbase-{hex}")
}

/// The cached tarball, built on first use; panics with the reason when it cannot be built.
pub fn tarball() -> &'static Path {
    static TARBALL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match TARBALL.get_or_init(|| ensure(&cache_dir())) {
        Ok(path) => path,
        Err(e) => panic!("the {SUITE} root cannot be built: {e}"),
    }
}

fn ensure(cache: &Path) -> Result<PathBuf, String> {
    let _lock = build_lock::lock(cache)?;
    let key = key();
    let tar = cache.join(format!("{key}.tar"));
    if !tar.exists() {
        let started = std::time::Instant::now();
        eprintln!("portability: building the {SUITE} root {key} (once per recipe)");
        let partial = cache.join(format!("{key}.tar.partial"));
        let out = Command::new("mmdebstrap")
            .args([
                "--mode=root",
                "--variant=minbase",
                "--format=tar",
                "--quiet",
            ])
            .arg(format!("--include={}", INCLUDE.join(",")))
            .arg(format!("--customize-hook={SHRINK}"))
            .arg(SUITE)
            .arg(&partial)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run mmdebstrap: {e}"))?;
        if !out.status.success() {
            let _ = fs::remove_file(&partial);
            return Err(format!(
                "mmdebstrap {SUITE} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        fs::rename(&partial, &tar).map_err(|e| format!("cannot publish {}: {e}", tar.display()))?;
        eprintln!(
            "portability: {SUITE} root built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        prune(cache, &tar);
    }
    Ok(tar)
}

/// Removes the tarballs of other keys (an old recipe's).
fn prune(cache: &Path, keep: &Path) {
    for entry in fs::read_dir(cache).into_iter().flatten().flatten() {
        let path = entry.path();
        if path != keep && path.extension().is_some_and(|x| x == "tar") {
            let _ = fs::remove_file(path);
        }
    }
}

/// Unpacks a fresh copy of the root into `dest` (created).
pub fn unpack(dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    stdout_of(
        &format!("unpacking the {SUITE} root"),
        Command::new("tar")
            .arg("-xf")
            .arg(tarball())
            .arg("-C")
            .arg(dest)
            .args(["--numeric-owner", "--xattrs"]),
    );
}

/// glibc's version in the root at `dir`, from dpkg's database (`2.31-13+deb11u11`).
pub fn glibc_version(dir: &Path) -> String {
    let status = fs::read_to_string(dir.join("var/lib/dpkg/status")).unwrap();
    let stanza = status
        .split("\n\n")
        .find(|s| s.lines().any(|l| l == "Package: libc6"))
        .expect("libc6 in the root's dpkg status");
    stanza
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .expect("libc6 has a version")
        .to_owned()
}
