//! The host template's copy of /etc without the host's secrets: what a container of the `host`
//! template must not see, or must not share with the host and its siblings.
//!
//! - `shadow` and `gshadow` are rewritten from `passwd` and `group`: every account and group is
//!   locked (`!*`), with no hash of the host's. Their backups (`shadow-`, `gshadow-`) go.
//! - SSH host keys, private and public (`ssh/ssh_host_*`), go: they are the host's identity.
//! - `machine-id` and `hostid` go: each container gets its own machine-id at start
//!   (`container/own_files.rs`).
//! - Whatever else the host keeps from other users goes too: every file without the
//!   world-read bit (TLS keys under `ssl/private`, `security/opasswd`, keytabs, VPN and network
//!   secrets, database passwords...) and the contents of every directory without the world-search
//!   bit. The exceptions are policy that is restricted without being secret: `sudoers` and
//!   `sudoers.d/`.
//!
//! The scrub runs when the template is built, and once over a cache built before it existed
//! (marked by [`MARKER`] in the template's root).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{Result, io_err};

/// File in a host template's root saying its /etc has been scrubbed.
pub const MARKER: &str = ".fleet-etc-scrubbed-1";

/// Files removed whatever their mode, relative to /etc.
const REMOVED: &[&str] = &["shadow-", "gshadow-", "machine-id", "hostid"];

/// Files kept although other users may not read them (policy, not secrets).
const KEPT_PRIVATE: &[&str] = &["shadow", "gshadow", "sudoers"];

/// Scrubs the template tree rooted at `tree` (its `etc/`) and marks it scrubbed.
pub fn scrub(tree: &Path) -> Result<()> {
    let etc = tree.join("etc");
    if etc.is_dir() {
        locked_copy(&etc, "shadow", "passwd", |name| format!("{name}:!*:::::::"))?;
        locked_copy(&etc, "gshadow", "group", |name| format!("{name}:!*::"))?;
        for rel in REMOVED {
            remove_file(&etc.join(rel))?;
        }
        let ssh = etc.join("ssh");
        for entry in fs::read_dir(&ssh).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
                remove_file(&entry.path())?;
            }
        }
        drop_private(&etc, &etc)?;
    }
    let marker = tree.join(MARKER);
    fs::write(&marker, b"").map_err(io_err("write", &marker))
}

/// Whether `tree` was scrubbed.
pub fn is_scrubbed(tree: &Path) -> bool {
    tree.join(MARKER).exists()
}

/// Rewrites `etc/<file>` with one locked entry per name in `etc/<names_from>`, keeping the old
/// file's owner, group and mode. Nothing when the file does not exist.
fn locked_copy(
    etc: &Path,
    file: &str,
    names_from: &str,
    line: impl Fn(&str) -> String,
) -> Result<()> {
    let path = etc.join(file);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return Ok(());
    };
    let source = etc.join(names_from);
    let names = fs::read_to_string(&source).unwrap_or_default();
    let mut text = String::new();
    for name in names
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(':').next())
    {
        text.push_str(&line(name));
        text.push('\n');
    }
    let tmp = etc.join(format!(".{file}.fleet-tmp"));
    fs::write(&tmp, text).map_err(io_err("write", &tmp))?;
    std::os::unix::fs::lchown(&tmp, Some(meta.uid()), Some(meta.gid()))
        .map_err(io_err("chown", &tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io_err("chmod", &tmp))?;
    fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))
}

/// Removes what the host keeps from other users below `dir` (see the module doc).
fn drop_private(etc: &Path, dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        let entry = entry.map_err(io_err("read directory", dir))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(io_err("stat", &path))?;
        let rel = path.strip_prefix(etc).unwrap_or(&path);
        if meta.file_type().is_symlink() || kept(rel) {
            continue;
        }
        if meta.is_dir() {
            if meta.mode() & 0o001 == 0 {
                for inner in fs::read_dir(&path).map_err(io_err("read directory", &path))? {
                    let inner = inner.map_err(io_err("read directory", &path))?.path();
                    remove_any(&inner)?;
                }
            } else {
                drop_private(etc, &path)?;
            }
        } else if meta.mode() & 0o004 == 0 {
            remove_file(&path)?;
        }
    }
    Ok(())
}

fn kept(rel: &Path) -> bool {
    KEPT_PRIVATE.iter().any(|k| rel == Path::new(k)) || rel.starts_with("sudoers.d")
}

fn remove_any(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(io_err("stat", path))?;
    if meta.is_dir() {
        fs::remove_dir_all(path).map_err(io_err("remove", path))
    } else {
        remove_file(path)
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A host's /etc, a file a line: its path below /etc, its mode (octal) and its contents,
    /// `|` standing for a line break.
    const HOST_ETC: &str = "\
passwd 644 root:x:0:0::/root:/bin/sh|ada:x:1000:1000::/home/ada:/bin/sh|
group 644 root:x:0:|ada:x:1000:|
shadow 640 root:$6$salt$HASH:19000:0:99999:7:::|ada:$y$j9T$HASH2:19000::::::|
shadow- 600 root:$6$salt$OLD:19000::::::|
gshadow 640 root:*::|ada:$6$g$GHASH::ada|
ssh/ssh_host_ed25519_key 600 PRIVATE
ssh/ssh_host_ed25519_key.pub 644 ssh-ed25519 AAAA host
ssh/sshd_config 644 Port 22|
ssl/private/site.key 640 KEY
ssl/certs/site.pem 644 CERT
mysql/debian.cnf 600 password = p|
sudoers 440 root ALL=(ALL) ALL|
sudoers.d/ops 440 %ops ALL=(ALL) ALL|
machine-id 444 0123456789abcdef0123456789abcdef|
";

    #[test]
    fn host_secrets_are_removed_and_accounts_locked() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        for line in HOST_ETC.lines() {
            let mut fields = line.splitn(3, ' ');
            let (rel, mode, text) = (fields.next(), fields.next(), fields.next());
            let mode = u32::from_str_radix(mode.unwrap(), 8).unwrap();
            write(
                &etc.join(rel.unwrap()),
                &text.unwrap().replace('|', "\n"),
                mode,
            );
        }
        fs::set_permissions(etc.join("ssl/private"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("/usr/share/zoneinfo/UTC", etc.join("localtime")).unwrap();
        scrub(dir.path()).unwrap();

        let shadow = fs::read_to_string(etc.join("shadow")).unwrap();
        assert_eq!(shadow, "root:!*:::::::\nada:!*:::::::\n");
        assert_eq!(
            fs::metadata(etc.join("shadow")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_to_string(etc.join("gshadow")).unwrap(),
            "root:!*::\nada:!*::\n"
        );
        for gone in [
            "shadow-",
            "ssh/ssh_host_ed25519_key",
            "ssh/ssh_host_ed25519_key.pub",
            "ssl/private/site.key",
            "mysql/debian.cnf",
            "machine-id",
        ] {
            assert!(fs::symlink_metadata(etc.join(gone)).is_err(), "{gone} kept");
        }
        for kept in [
            "ssh/sshd_config",
            "ssl/certs/site.pem",
            "sudoers",
            "sudoers.d/ops",
            "localtime",
        ] {
            assert!(
                fs::symlink_metadata(etc.join(kept)).is_ok(),
                "{kept} removed"
            );
        }
        assert!(
            etc.join("ssl/private").is_dir(),
            "the directory stays, empty"
        );
        assert!(is_scrubbed(dir.path()));
    }
}
