//! Safe writes into a container's own filesystem tree: the one way fleet-node puts a file
//! (hostname, machine-id, and later /etc/hosts, resolv.conf, network files) into a tree that a
//! hostile container root has shaped.
//!
//! Every path is resolved by the kernel with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV)` from a descriptor of the tree's root, so no symlink, `..` or /proc magic
//! link can lead outside it: an absolute symlink means the tree's own root, as it does inside the
//! container. The last component is never followed or opened: a file is written to a fresh
//! temporary file in the directory opened that way and `renameat` replaces the directory entry.
//! So a symlink, a hard link to a host file, a fifo, a device node or a huge file put where the
//! file goes is replaced, never written through, opened or read. Reads ([`Tree::read`]) open the
//! final component only when it is a regular file of bounded size, never blocking on a fifo.
//!
//! Neighbours: `container/own_files.rs` writes the per-container files at start; the tree is the
//! overlay's upper layer (the container's own writes), opened before the overlay is mounted.
//! See docs/security.md (safe writes) and docs/decisions.md for why openat2 over nix and not
//! a crate.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};

/// Resolution rules for every path inside a tree.
const RESOLVE: ResolveFlag = ResolveFlag::RESOLVE_IN_ROOT
    .union(ResolveFlag::RESOLVE_NO_MAGICLINKS)
    .union(ResolveFlag::RESOLVE_NO_XDEV);

/// Why a write into or a read from a container's tree failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} /{} in the container tree {}: {source}", path.display(), root.display())]
pub struct TreeError {
    /// What was being done.
    pub action: &'static str,
    /// The tree's root on the host.
    pub root: PathBuf,
    /// The path inside the tree.
    pub path: PathBuf,
    /// The cause (`ENOTDIR` for a component that is not a directory, `ELOOP` for a symlink
    /// loop, `EISDIR` for a directory where a file goes, `EFBIG` for a file over the limit).
    pub source: io::Error,
}

/// Owner of what a write creates (a user-namespaced container's root is an unprivileged host
/// uid, which must own the files it may change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// Host uid.
    pub uid: u32,
    /// Host gid.
    pub gid: u32,
}

/// What is at a path inside a tree, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// File type bits (`SFlag::S_IFREG`, `S_IFLNK`, ...).
    pub kind: SFlag,
    /// Size in bytes.
    pub size: u64,
}

impl Entry {
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind == SFlag::S_IFREG
    }
}

/// A container's tree, held open by a descriptor of its root directory.
#[derive(Debug)]
pub struct Tree {
    root: OwnedFd,
    path: PathBuf,
}

impl Tree {
    /// Opens the tree rooted at `path`, a host-controlled directory (the store's upper layer).
    /// The root itself must not be a symlink.
    pub fn open(path: &Path) -> Result<Tree, TreeError> {
        let root = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| TreeError {
            action: "open the root of",
            root: path.to_owned(),
            path: PathBuf::new(),
            source: e.into(),
        })?;
        Ok(Tree {
            root,
            path: path.to_owned(),
        })
    }

    /// The root's path on the host (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `rel` (relative, such as `etc/hostname`), replacing whatever entry is
    /// there. Missing parent directories are made with mode 0755. `mode` and `owner` apply to the
    /// new file and to directories made here.
    pub fn write(
        &self,
        rel: &str,
        contents: &[u8],
        mode: u32,
        owner: Option<Owner>,
    ) -> Result<(), TreeError> {
        let (parent, name) = split(rel).map_err(self.err("write", rel))?;
        let dir = self.dir(parent, owner).map_err(self.err("write", rel))?;
        let tmp = format!(
            ".{}.fleet-tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        );
        // A leftover of ours from a crash, or anything the container put under that name: an
        // unlink removes the entry itself, never what a symlink points to.
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        let written = write_new(&dir, &tmp, contents, mode, owner)
            .and_then(|()| renameat(&dir, tmp.as_str(), &dir, name).map_err(io::Error::from));
        if written.is_err() {
            let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        written.map_err(self.err("write", rel))
    }

    /// Makes directory `rel` and its missing parents (mode 0755, owned by `owner`).
    pub fn create_dir_all(&self, rel: &str, owner: Option<Owner>) -> Result<(), TreeError> {
        let path = checked(rel).map_err(self.err("create directory", rel))?;
        self.dir(&path, owner)
            .map(drop)
            .map_err(self.err("create directory", rel))
    }

    /// What is at `rel`, not following a final symlink; `None` when nothing (or no parent).
    pub fn entry(&self, rel: &str) -> Result<Option<Entry>, TreeError> {
        let (parent, name) = split(rel).map_err(self.err("inspect", rel))?;
        let found = self
            .resolve_dir(parent)
            .and_then(|dir| fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW));
        match found {
            Ok(st) => Ok(Some(entry(&st))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(self.err("inspect", rel)(e.into())),
        }
    }

    /// Reads `rel` when it is a regular file of at most `max` bytes; `None` when it does not
    /// exist. A symlink, fifo, device node or larger file is refused without being opened for
    /// reading.
    pub fn read(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>, TreeError> {
        let path = checked(rel).map_err(self.err("read", rel))?;
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(RESOLVE);
        let handle = match openat2(&self.root, &path, how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(self.err("read", rel)(e.into())),
        };
        read_handle(&handle, max)
            .map(Some)
            .map_err(self.err("read", rel))
    }

    fn err(&self, action: &'static str, rel: &str) -> impl FnOnce(io::Error) -> TreeError {
        let root = self.path.clone();
        let path = PathBuf::from(rel);
        move |source| TreeError {
            action,
            root,
            path,
            source,
        }
    }

    /// Opens directory `rel` (empty: the root) inside the tree.
    fn resolve_dir(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let rel: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(RESOLVE);
        openat2(&self.root, rel, how)
    }

    /// Opens directory `rel`, making each missing component inside the tree.
    fn dir(&self, rel: &Path, owner: Option<Owner>) -> io::Result<OwnedFd> {
        let mut fd = self.resolve_dir(Path::new(""))?;
        let mut prefix = PathBuf::new();
        for part in rel.iter() {
            prefix.push(part);
            fd = match self.resolve_dir(&prefix) {
                Ok(next) => next,
                Err(Errno::ENOENT) => match mkdirat(&fd, part, Mode::from_bits_truncate(0o755)) {
                    Ok(()) => {
                        // Made just now in the directory we hold: open that very entry.
                        let made = openat(
                            &fd,
                            part,
                            OFlag::O_RDONLY
                                | OFlag::O_DIRECTORY
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_CLOEXEC,
                            Mode::empty(),
                        )?;
                        if let Some(o) = owner {
                            fchown(
                                &made,
                                Some(Uid::from_raw(o.uid)),
                                Some(Gid::from_raw(o.gid)),
                            )?;
                        }
                        // mkdirat's mode passed through the umask.
                        fchmod(&made, Mode::from_bits_truncate(0o755))?;
                        made
                    }
                    // A dangling symlink: the name exists, what it names does not.
                    Err(Errno::EEXIST) => return Err(Errno::ENOENT.into()),
                    Err(e) => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            };
        }
        Ok(fd)
    }
}

/// Creates `name` in `dir` (never an existing entry, never through a symlink) and fills it.
fn write_new(
    dir: &OwnedFd,
    name: &str,
    contents: &[u8],
    mode: u32,
    owner: Option<Owner>,
) -> io::Result<()> {
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    if let Some(o) = owner {
        fchown(&fd, Some(Uid::from_raw(o.uid)), Some(Gid::from_raw(o.gid)))?;
    }
    fchmod(&fd, Mode::from_bits_truncate(mode & 0o777))?;
    let mut file = File::from(fd);
    file.write_all(contents)
}

/// Reads through an `O_PATH` handle: only a regular file, only up to `max` bytes. The handle is
/// reopened for reading through /proc/self/fd (the host's /proc), so the open is of the very
/// inode that was checked.
fn read_handle(handle: &OwnedFd, max: u64) -> io::Result<Vec<u8>> {
    let st = entry(&fstat(handle)?);
    if !st.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (symlinks, fifos and device nodes are never read)",
        ));
    }
    if st.size > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{} bytes, over the {max}-byte limit", st.size),
        ));
    }
    let fd = nix::fcntl::open(
        format!("/proc/self/fd/{}", handle.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        Mode::empty(),
    )?;
    let mut bytes = Vec::new();
    // The file may grow between fstat and read: never take more than the limit.
    File::from(fd).take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("over the {max}-byte limit"),
        ));
    }
    Ok(bytes)
}

fn entry(st: &FileStat) -> Entry {
    Entry {
        kind: SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()),
        size: st.st_size as u64,
    }
}

/// `rel` as a path of plain names: relative, no `.`, `..` or empty components.
fn checked(rel: &str) -> io::Result<PathBuf> {
    let path = Path::new(rel);
    if rel.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "expected a relative path of plain names",
        ));
    }
    Ok(path.to_owned())
}

/// Splits a checked path into its parent (possibly empty) and last name.
fn split(rel: &str) -> io::Result<(&Path, &OsStr)> {
    checked(rel)?;
    let path = Path::new(rel);
    let name = path.file_name().expect("checked: ends in a name");
    Ok((path.parent().unwrap_or(Path::new("")), name))
}

#[cfg(test)]
mod tests;
