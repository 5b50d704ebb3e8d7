//! OS templates: the read-only lower layer of every container's overlay, built once per host into
//! `<root>/templates/<key>` and shared. Concurrent users of a template that is not built yet wait
//! on `<root>/templates/<key>.lock` for the one process that builds it; a build happens in a
//! temporary directory renamed into place, so a half-built template is never used.
//!
//! Neighbours: `container/create.rs` calls [`prepare`]; `rootfs/` mounts the result. One file per
//! kind: [`busybox`], [`host`], [`tarball`].

pub mod busybox;
pub mod host;
pub mod host_etc;
pub mod tarball;

use std::fs;
use std::path::{Path, PathBuf};

use fleet_protocol::TemplateRef;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result, io_err};

/// A template ready to be mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The unpacked tree, the overlay's lower layer.
    pub lower: PathBuf,
    /// Host directories bound read-only over the same path inside the container (host template).
    pub host_binds: Vec<PathBuf>,
}

/// Where templates come from on this host.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The static busybox binary (`/bin/busybox` from busybox-static).
    pub busybox: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            busybox: PathBuf::from("/bin/busybox"),
        }
    }
}

/// Cache key: one directory name per distinct template.
pub fn cache_key(template: &TemplateRef) -> String {
    match template {
        TemplateRef::Host => "host".into(),
        TemplateRef::Busybox => "busybox".into(),
        TemplateRef::Tarball { name, sha256, .. } => {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("tarball-{safe}-{}", &sha256[..16.min(sha256.len())])
        }
    }
}

/// Checks what can be checked without building (digest syntax, busybox presence, tarball file).
pub fn check(template: &TemplateRef, sources: &Sources) -> Result<()> {
    match template {
        TemplateRef::Host => Ok(()),
        TemplateRef::Busybox => busybox::check(&sources.busybox),
        TemplateRef::Tarball { path, sha256, .. } => tarball::check(Path::new(path), sha256),
    }
}

/// Returns the template's cached tree, building it first if no one has.
pub fn prepare(cache: &Path, template: &TemplateRef, sources: &Sources) -> Result<Prepared> {
    check(template, sources)?;
    let key = cache_key(template);
    let lower = cache.join(&key);
    let host_binds = match template {
        TemplateRef::Host => host::bound_dirs(),
        _ => Vec::new(),
    };
    if !lower.is_dir() {
        crate::store::private_dir(cache)?;
        let _lock = build_lock(cache, key.as_str())?;
        if !lower.is_dir() {
            remove_stale_builds(cache, &key);
            let tmp = cache.join(format!(".{key}.tmp-{}", std::process::id()));
            fs::create_dir_all(&tmp).map_err(io_err("create directory", &tmp))?;
            let built = match template {
                TemplateRef::Host => host::build(&tmp),
                TemplateRef::Busybox => busybox::build(&tmp, &sources.busybox),
                TemplateRef::Tarball { path, sha256, .. } => {
                    tarball::build(&tmp, Path::new(path), sha256)
                }
            };
            if let Err(e) = built.and_then(|()| skeleton(&tmp)) {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
            fs::rename(&tmp, &lower).map_err(io_err("rename into place", &lower))?;
        }
    }
    if *template == TemplateRef::Host {
        scrub_old_host_cache(cache, &key, &lower)?;
    }
    Ok(Prepared { lower, host_binds })
}

/// Takes the exclusive lock of the cache entry `key` (`KEY.lock` beside it), held while the
/// entry is built or scrubbed, so that two containers starting at once build it once.
fn build_lock(cache: &Path, key: &str) -> Result<Flock<fs::File>> {
    let lock_path = cache.join(format!("{key}.lock"));
    let file = fs::File::create(&lock_path).map_err(io_err("create", &lock_path))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| Error::Io {
        action: "lock",
        path: lock_path,
        source: e.into(),
    })
}

/// A host template cached before /etc was scrubbed of the host's secrets (no [`host_etc::MARKER`])
/// is scrubbed in place, under its build lock, before any container uses it again.
fn scrub_old_host_cache(cache: &Path, key: &str, lower: &Path) -> Result<()> {
    if host_etc::is_scrubbed(lower) {
        return Ok(());
    }
    let _lock = build_lock(cache, key)?;
    if host_etc::is_scrubbed(lower) {
        return Ok(());
    }
    host_etc::scrub(lower)
}

/// Like [`prepare`], for a container whose root is host uid `base` in a user namespace: a copy
/// of the template with every owner shifted by `base` (cached per base), so container root owns
/// its files and overlay copy-up works.
pub fn prepare_shifted(
    cache: &Path,
    template: &TemplateRef,
    sources: &Sources,
    base: u32,
) -> Result<Prepared> {
    let plain = prepare(cache, template, sources)?;
    let key = format!("{}-uid{base}", cache_key(template));
    let lower = cache.join(&key);
    if lower.is_dir() {
        if *template == TemplateRef::Host {
            scrub_old_host_cache(cache, &key, &lower)?;
        }
        return Ok(Prepared { lower, ..plain });
    }
    let _lock = build_lock(cache, &key)?;
    if !lower.is_dir() {
        remove_stale_builds(cache, &key);
        let tmp = cache.join(format!(".{key}.tmp-{}", std::process::id()));
        run(
            "cp",
            &["-a".as_ref(), plain.lower.as_os_str(), tmp.as_os_str()],
        )?;
        if let Err(e) = shift_owners(&tmp, base) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &lower).map_err(io_err("rename into place", &lower))?;
    }
    Ok(Prepared { lower, ..plain })
}

/// Removes every shifted copy made for uid base `base` (its range was freed: no container uses
/// them, and the next holder of the range gets fresh ones).
pub fn remove_shifted(cache: &Path, base: u32) -> Result<()> {
    let suffix = format!("-uid{base}");
    let entries = match fs::read_dir(cache) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read directory", cache)(e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if name.ends_with(&suffix) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
        } else if name.ends_with(&format!("{suffix}.lock")) {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Adds `base` to the owner and group of every entry below `dir` (symlinks themselves, not
/// their targets), restoring set-id bits that chown clears.
fn shift_owners(dir: &Path, base: u32) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::symlink_metadata(dir).map_err(io_err("stat", dir))?;
    std::os::unix::fs::lchown(dir, Some(meta.uid() + base), Some(meta.gid() + base))
        .map_err(io_err("chown", dir))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.mode() & 0o6000 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io_err("chmod", dir))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
            let entry = entry.map_err(io_err("read directory", dir))?;
            shift_owners(&entry.path(), base)?;
        }
    }
    Ok(())
}

/// Removes half-built trees of `key` left by a process killed mid-build (the caller holds the
/// key's lock, so no build of it is running).
fn remove_stale_builds(cache: &Path, key: &str) {
    let prefix = format!(".{key}.tmp-");
    for entry in fs::read_dir(cache).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Mount points every root filesystem needs, whatever the template brought.
fn skeleton(dir: &Path) -> Result<()> {
    for sub in ["proc", "sys", "dev", "tmp", "root", "etc", "run", "var"] {
        let path = dir.join(sub);
        if fs::symlink_metadata(&path).is_err() {
            fs::create_dir_all(&path).map_err(io_err("create directory", &path))?;
        }
    }
    let tmp = dir.join("tmp");
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777));
    Ok(())
}

/// Runs a helper program with an argv list, turning failure into [`Error::Command`].
pub(crate) fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(io_err("run", program))?;
    if !out.status.success() {
        return Err(Error::Command {
            program: format!(
                "{program} {}",
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}
