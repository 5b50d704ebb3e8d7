//! The Debian 12 root image every VM boots from, built from Debian packages only and cached.
//!
//! Build: `mmdebstrap` (minbase plus [`recipe::PACKAGES`]) into a directory, the recipe's files,
//! masks and removals, the host's cloud-kernel modules copied in, then `mkfs.ext4 -d` into a
//! sparse raw file. The kernel is copied beside it and the harness's own initramfs written there
//! ([`crate::initramfs`]), so an image directory is complete on its own.
//!
//! Cache: `<target>/vm-images/<key>/` (or `$FLEET_VM_CACHE/<key>/`), where the key hashes this
//! recipe's source text and the kernel package's release and version. A build happens under an
//! exclusive lock on `<cache>/build.lock`, so concurrent test processes wait for one build and
//! then all reuse it; within a process the image is looked up once. Images of other keys are
//! removed after a build. VMs never write the image: each boots from its own qcow2 overlay
//! ([`crate::vm`]).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::prereq::{self, Kernel};
use crate::recipe;

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its cache directory.
    pub dir: PathBuf,
    /// The root file system (raw ext4, read-only).
    pub base: PathBuf,
    /// The kernel to boot.
    pub vmlinuz: PathBuf,
    /// Its initrd.
    pub initrd: PathBuf,
    /// The cache key.
    pub key: String,
    /// The kernel it was built for.
    pub kernel: Kernel,
}

/// Where images are kept: `$FLEET_VM_CACHE`, else `vm-images` in the cargo target directory.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("FLEET_VM_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => crate::bins::profile_dir()
            .parent()
            .map(|target| target.join("vm-images"))
            .expect("the profile directory lies in the target directory"),
    }
}

/// The cache key: what went into the image.
pub fn key(kernel: &Kernel) -> String {
    let mut h = Sha256::new();
    h.update(b"fleet-vm image\n");
    h.update(include_str!("recipe.rs").as_bytes());
    h.update(include_str!("image.rs").as_bytes());
    h.update(include_str!("initramfs.rs").as_bytes());
    h.update(format!("\nkernel {} {}\n", kernel.release, kernel.package_version).as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("debian12-{hex}")
}

impl Image {
    /// The image for this recipe and kernel, built on first use. Panics with the reason when it
    /// cannot be built (a test cannot go on without it).
    pub fn get() -> &'static Image {
        static IMAGE: OnceLock<Result<Image, String>> = OnceLock::new();
        match IMAGE.get_or_init(|| {
            let kernel = prereq::kernel()?;
            ensure(&cache_dir(), kernel)
        }) {
            Ok(image) => image,
            Err(e) => panic!("the VM image cannot be built: {e}"),
        }
    }
}

fn image_in(dir: PathBuf, key: String, kernel: Kernel) -> Image {
    Image {
        base: dir.join("base.img"),
        vmlinuz: dir.join("vmlinuz"),
        initrd: dir.join("initrd.img"),
        dir,
        key,
        kernel,
    }
}

/// Returns the cached image for `kernel`, building it first if needed.
pub fn ensure(cache: &Path, kernel: Kernel) -> Result<Image, String> {
    let key = key(&kernel);
    let dir = cache.join(&key);
    let lock = crate::cache::lock(cache)?;
    if !dir.join("base.img").exists() {
        let started = Instant::now();
        eprintln!(
            "fleet-vm: building image {key} in {} (once per recipe and kernel)",
            cache.display()
        );
        build(cache, &key, &kernel)?;
        eprintln!(
            "fleet-vm: image {key} built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        prune(cache, &key);
    }
    drop(lock);
    Ok(image_in(dir, key, kernel))
}

/// Runs `cmd`, returning its stderr's tail in the error.
fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
    Err(format!(
        "{what} failed ({}):\n{}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

fn build(cache: &Path, key: &str, kernel: &Kernel) -> Result<(), String> {
    let partial = cache.join(format!("{key}.partial"));
    // Under the lock, a partial directory is a build that died: start again. Its mounts went
    // with the private mount namespace it ran in (below), but a build from before that change
    // may have left its /proc, /sys, /dev/pts and the host's /dev/shm mounted there: detach
    // them first, so the removal never walks into a filesystem that is not the build's.
    if partial.exists() {
        detach_mounts_below(&partial)?;
        fs::remove_dir_all(&partial)
            .map_err(|e| format!("cannot remove {}: {e}", partial.display()))?;
    }
    fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let root = partial.join("root");
    // mmdebstrap's root mode mounts /proc, /sys, devpts and the host's /dev/shm into the tree;
    // in a private mount namespace of its own those mounts end with it, even when it is killed.
    let mut mm = Command::new("unshare");
    mm.args(["--mount", "--propagation", "private", "mmdebstrap"]);
    mm.args([
        "--mode=root",
        "--format=directory",
        "--variant=minbase",
        "--quiet",
    ])
    .arg(format!("--include={}", recipe::PACKAGES.join(",")));
    for opt in recipe::DPKG_EXCLUDES {
        mm.arg(format!("--dpkgopt={opt}"));
    }
    mm.arg(recipe::SUITE).arg(&root);
    run("mmdebstrap", &mut mm)?;
    configure(&root, kernel)?;
    fs::copy(&kernel.vmlinuz, partial.join("vmlinuz"))
        .map_err(|e| format!("cannot copy {}: {e}", kernel.vmlinuz.display()))?;
    crate::initramfs::write(
        &kernel.modules,
        &root.join("bin/busybox"),
        &partial.join("initrd.img"),
    )?;
    let base = partial.join("base.img");
    run(
        "mkfs.ext4",
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "fleet-root", "-E", "root_owner=0:0", "-d"])
            .arg(&root)
            .arg(&base)
            .arg(recipe::ROOT_SIZE),
    )?;
    fs::remove_dir_all(&root).map_err(|e| format!("cannot remove {}: {e}", root.display()))?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o444))
        .map_err(|e| format!("{}: {e}", base.display()))?;
    let mut about = fs::File::create(partial.join("recipe.txt"))
        .map_err(|e| format!("cannot write recipe.txt: {e}"))?;
    let _ = writeln!(
        about,
        "key {key}\nsuite {}\npackages {}\nkernel {} (linux-image {})\n",
        recipe::SUITE,
        recipe::PACKAGES.join(" "),
        kernel.release,
        kernel.package_version
    );
    fs::rename(&partial, cache.join(key)).map_err(|e| format!("cannot publish the image: {e}"))
}

/// Writes the recipe into the tree at `root`.
fn configure(root: &Path, kernel: &Kernel) -> Result<(), String> {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    for (path, mode, content) in recipe::FILES {
        let p = root.join(path);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        }
        fs::write(&p, content).map_err(|e| err(&p, e))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).map_err(|e| err(&p, e))?;
    }
    let units = root.join("etc/systemd/system");
    for (wants, unit) in recipe::ENABLE {
        let dir = units.join(wants);
        fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let link = dir.join(unit);
        let _ = fs::remove_file(&link);
        symlink(format!("/etc/systemd/system/{unit}"), &link).map_err(|e| err(&link, e))?;
    }
    for unit in recipe::MASK {
        let link = units.join(unit);
        let _ = fs::remove_file(&link);
        symlink("/dev/null", &link).map_err(|e| err(&link, e))?;
    }
    for path in recipe::REMOVE {
        let p = root.join(path);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(&p, e)),
        }
    }
    // /lib is a relative link to usr/lib in Debian 12, so this lands in the tree.
    let modules = root.join("lib/modules");
    fs::create_dir_all(&modules).map_err(|e| err(&modules, e))?;
    run(
        "cp -a (kernel modules)",
        Command::new("cp")
            .arg("-a")
            .arg(&kernel.modules)
            .arg(&modules),
    )
}

/// Removes images of other keys (and dead partial builds); the caller holds the lock. A VM still
/// running from a removed image keeps its open file.
fn prune(cache: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != keep
            && name.starts_with("debian12-")
            && e.path().is_dir()
            && let Err(err) = fs::remove_dir_all(e.path())
        {
            eprintln!("fleet-vm: cannot remove old image {name}: {err}");
        }
    }
}

/// Lazily unmounts every mount point at or below `dir` (deepest first), as listed in
/// /proc/self/mountinfo, whose fifth field is the mount point with spaces escaped as `\040`.
fn detach_mounts_below(dir: &Path) -> Result<(), String> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in points {
        run("umount", Command::new("umount").arg("-l").arg(&point))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(version: &str) -> Kernel {
        Kernel {
            release: "6.1.0-57-cloud-amd64".into(),
            package_version: version.into(),
            vmlinuz: "/boot/vmlinuz".into(),
            initrd: "/boot/initrd.img".into(),
            modules: "/lib/modules/x".into(),
        }
    }

    #[test]
    fn the_key_changes_with_the_kernel_package() {
        let a = key(&kernel("6.1.192-3"));
        assert_eq!(a, key(&kernel("6.1.192-3")));
        assert_ne!(a, key(&kernel("6.1.193-1")));
        assert!(
            a.starts_with("debian12-") && a.len() == "debian12-".len() + 16,
            "{a}"
        );
    }
    #[test]
    fn a_died_builds_mounts_are_detached_so_its_removal_stays_in_the_tree() {
        if !nix_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "this test needs root under CI"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("root/dev/shm");
        fs::create_dir_all(&inner).unwrap();
        run(
            "mount",
            Command::new("mount")
                .args(["-t", "tmpfs", "none"])
                .arg(&inner),
        )
        .unwrap();
        let mounted = || {
            let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
            info.lines().any(|l| l.split(' ').nth(4) == inner.to_str())
        };
        assert!(mounted());
        detach_mounts_below(dir.path()).unwrap();
        assert!(!mounted(), "the tmpfs below the tree is still mounted");
    }

    fn nix_root() -> bool {
        fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
            .unwrap_or(false)
    }
}
