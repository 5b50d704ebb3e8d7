//! The checkpoint directory on the host: made 0700 by fleet-node (never a path inside a
//! container's tree or the store), holding CRIU's images and fleet-node's own record of what
//! the restore must supply (`fleet-checkpoint.json`: the external keys CRIU was given). The
//! images are the tenant's bytes; nothing here reads them beyond their sizes.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::Runtime;
use crate::error::{Error, Result, io_err};

/// fleet-node's record in a checkpoint directory.
pub const RECORD: &str = "fleet-checkpoint.json";
/// CRIU's log of the dump, kept in the directory for diagnosis.
pub const DUMP_LOG: &str = "dump.log";
/// CRIU's log of the restore.
pub const RESTORE_LOG: &str = "restore.log";

/// What a restore needs to know beyond CRIU's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The container dumped.
    pub name: String,
    /// The CRIU that dumped it.
    pub criu_version: String,
    /// CRIU's key for the console log the tree writes to (`file[mnt_id:inode]`): the restore
    /// hands the target's log in as an inherited descriptor under this key.
    pub log_key: String,
    /// Whether the tree has its own network namespace (restored by CRIU with it).
    pub own_netns: bool,
}

/// Makes `dir` ready for a dump: absolute, outside the node's store, a fresh or empty directory
/// of root's, mode 0700 (a symlink or a non-empty directory is refused).
pub fn prepare(runtime: &Runtime, name: &str, dir: &Path) -> Result<PathBuf> {
    let dir = checked(runtime, "checkpoint", name, dir)?;
    match fs::symlink_metadata(&dir) {
        Ok(meta) => {
            if !meta.is_dir() || meta.file_type().is_symlink() {
                return Err(refuse(name, &dir, "exists and is not a directory"));
            }
            if meta.uid() != 0 {
                return Err(refuse(name, &dir, "is not owned by root"));
            }
            if fs::read_dir(&dir)
                .map_err(io_err("read directory", &dir))?
                .next()
                .is_some()
            {
                return Err(refuse(
                    name,
                    &dir,
                    "is not empty (give a new directory: a checkpoint never mixes with other files)",
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir(&dir).map_err(io_err("create directory", &dir))?;
        }
        Err(e) => return Err(io_err("stat", &dir)(e)),
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("chmod 0700", &dir))?;
    Ok(dir)
}

/// Checks a directory given for restore the same way (absolute, outside the store, root's,
/// 0700) and reads fleet-node's record from it.
pub fn open(runtime: &Runtime, name: &str, dir: &Path) -> Result<(PathBuf, Record)> {
    let dir = checked(runtime, "restore", name, dir)?;
    let meta = fs::symlink_metadata(&dir).map_err(io_err("stat", &dir))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o077 != 0 {
        return Err(Error::Checkpoint {
            verb: "restore",
            name: name.to_owned(),
            message: format!(
                "{} must be a directory of root's with mode 0700 (as `fleet-node checkpoint` \
                 makes it)",
                dir.display()
            ),
        });
    }
    let record = read_record(name, &dir)?;
    Ok((dir, record))
}

/// Reads fleet-node's record from a checkpoint directory and checks it is `name`'s.
pub fn read_record(name: &str, dir: &Path) -> Result<Record> {
    let path = dir.join(RECORD);
    let bytes = fs::read(&path).map_err(|e| Error::Checkpoint {
        verb: "restore",
        name: name.to_owned(),
        message: format!(
            "{} is not a checkpoint of fleet-node's: {}: {e}",
            dir.display(),
            path.display()
        ),
    })?;
    let record: Record =
        serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })?;
    if record.name != name {
        return Err(Error::Checkpoint {
            verb: "restore",
            name: name.to_owned(),
            message: format!(
                "{} holds a checkpoint of container {:?}, not of this one",
                dir.display(),
                record.name
            ),
        });
    }
    Ok(record)
}

/// Makes a fresh 0700 directory of the node's own for a live move's dump (whatever an earlier
/// move left there is removed first). Not a user's path: `<root>/moving/`, see `super::move_dir`.
pub fn prepare_owned(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        crate::store::private_dir(parent)?;
    }
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove", dir)(e)),
    }
    fs::create_dir(dir).map_err(io_err("create directory", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err("chmod 0700", dir))
}

/// Host files opened to a user namespace's root group (group `base`) while a restore runs, and
/// back to root's own modes when dropped: the image directory (0710: CRIU's tasks read their
/// images after entering the namespace) and the console log (owned by `base`, mode unchanged:
/// CRIU reopens the inherited descriptor as the namespace's root and checks its mode). Neither path exists in the container's mount namespace,
/// so nothing inside can name them. Nothing happens for a privileged container.
#[derive(Debug)]
pub struct OpenTo {
    files: Vec<(PathBuf, u32)>,
}

/// See [`OpenTo`]: `(path, mode while open, mode after)`.
pub fn open_to(files: &[(&Path, u32, u32)], base: Option<u32>) -> Result<OpenTo> {
    let mut open = OpenTo { files: Vec::new() };
    let Some(base) = base else {
        return Ok(open);
    };
    for (path, during, after) in files {
        open.files.push((path.to_path_buf(), *after));
        // Directories by group (root keeps them); files by owner, since CRIU wants the mode the
        // dump saw (0600).
        let owner = if path.is_dir() { 0 } else { base };
        std::os::unix::fs::chown(path, Some(owner), Some(base)).map_err(io_err("chown", *path))?;
        fs::set_permissions(path, fs::Permissions::from_mode(*during))
            .map_err(io_err("chmod", *path))?;
    }
    Ok(open)
}

impl Drop for OpenTo {
    fn drop(&mut self) {
        for (path, mode) in &self.files {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(*mode));
            let _ = std::os::unix::fs::chown(path, Some(0), Some(0));
        }
    }
}

/// Writes the record (atomically).
pub fn write_record(dir: &Path, record: &Record) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record).expect("a record serializes");
    crate::store::atomic_write(&dir.join(RECORD), &bytes)
}

/// Total size of the files in the directory (not recursive: CRIU writes a flat directory).
pub fn size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// An absolute path whose existing part resolves outside `<root>` (the store, where the
/// containers' own trees and layers live).
fn checked(runtime: &Runtime, verb: &'static str, name: &str, dir: &Path) -> Result<PathBuf> {
    if !dir.is_absolute() {
        return Err(Error::Checkpoint {
            verb,
            name: name.to_owned(),
            message: format!(
                "the checkpoint directory {} must be an absolute path (such as \
                 /var/lib/fleet-checkpoints/{name})",
                dir.display()
            ),
        });
    }
    // The deepest existing ancestor, resolved: a symlink somewhere above cannot lead into the
    // store.
    let mut existing = dir.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(PathBuf::from), existing.parent()) {
            (Some(last), Some(parent)) => {
                rest.push(last);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .map_err(io_err("resolve", &existing))?;
    for part in rest.iter().rev() {
        resolved.push(part);
    }
    let store = runtime
        .store
        .root()
        .canonicalize()
        .unwrap_or_else(|_| runtime.store.root().to_path_buf());
    // Every directory above it is root's and writable by no one else (or sticky, as /tmp,
    // where no one else may rename root's entries): another user who could rename entries
    // there could swap the directory for a link while CRIU writes or reads it.
    let mut above = Some(
        existing
            .canonicalize()
            .map_err(io_err("resolve", &existing))?,
    );
    if rest.is_empty() {
        above = above.and_then(|p| p.parent().map(Path::to_path_buf));
    }
    while let Some(parent) = above {
        let meta = fs::metadata(&parent).map_err(io_err("stat", &parent))?;
        let shared = meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0;
        if meta.uid() != 0 || shared {
            return Err(Error::Checkpoint {
                verb,
                name: name.to_owned(),
                message: format!(
                    "the checkpoint directory {} is below {}, which {}: another user could swap \
                     the checkpoint for a link there; give a directory whose parents are root's \
                     (such as /var/lib/fleet-checkpoints/{name})",
                    dir.display(),
                    parent.display(),
                    if meta.uid() != 0 {
                        format!("uid {} owns", meta.uid())
                    } else {
                        "other users may write".to_owned()
                    }
                ),
            });
        }
        above = parent.parent().map(Path::to_path_buf);
    }
    if resolved.starts_with(&store) {
        return Err(Error::Checkpoint {
            verb,
            name: name.to_owned(),
            message: format!(
                "the checkpoint directory {} lies inside the node's store {}: give a directory \
                 outside it (the store holds the containers' own trees)",
                dir.display(),
                store.display()
            ),
        });
    }
    Ok(resolved)
}

fn refuse(name: &str, dir: &Path, why: &str) -> Error {
    Error::Checkpoint {
        verb: "checkpoint",
        name: name.to_owned(),
        message: format!("the checkpoint directory {} {why}", dir.display()),
    }
}
