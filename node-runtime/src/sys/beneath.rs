//! Names inside a container's tree, looked up by the kernel from a descriptor of the tree's
//! root and never as a path string: the one rule for every mount target and every directory or
//! file the start makes in the tree before pivot_root (the class of CVE-2021-30465). Container
//! root controls its overlay's upper layer, so any name there may be a symlink to a host path;
//! followed from fleet-node's side, a mkdir or a mount would land on the host.
//!
//! Each name is resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, which holds for
//! every component: the whole name from the root's descriptor first, else one component at a
//! time from the descriptor of its parent: no `..`, no symlink (the last component included), no
//! /proc magic link. Crossing into a mount is allowed, as the tree is
//! built from mounts (proc, sys, the fresh /dev). A mount target is never legitimately a symlink
//! in a tree fleet-node builds (its own names: `proc`, `sys`, `dev`, the host template's shared
//! directories, and what it makes in fresh tmpfs mounts), so a link, or a file where a directory
//! belongs, is refused with a [`TargetError`] that names it. A missing directory is made with
//! `mkdirat` in its parent's descriptor and opened the same way again. The result is an `O_PATH`
//! descriptor ([`Target`]); `sys::mount` mounts onto that descriptor, so the mount lands on the
//! inode that was checked even if the name is swapped afterwards.
//!
//! Neighbours: `rootfs/` resolves every target through a [`Root`]; `sys::mount` takes
//! [`Target`]s. The host side's writes into a tree go through `safe_write/` instead.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstat, mkdirat};

/// The resolution rule for every component.
const RESOLVE: ResolveFlag = ResolveFlag::RESOLVE_BENEATH.union(ResolveFlag::RESOLVE_NO_SYMLINKS);

/// What is wrong with a name in the tree.
#[derive(Debug)]
pub enum Problem {
    /// It is a symbolic link (never followed).
    Symlink,
    /// A directory was needed and something else is there.
    NotDirectory,
    /// A regular file was needed (a file's mount point) and something else is there.
    NotFile,
    /// The name is not a relative path of plain names (a fleet-node bug, not the container's).
    BadName,
    /// The kernel refused an operation.
    Io(&'static str, io::Error),
}

/// Why a name in a container's tree cannot be used as a mount target or made.
#[derive(Debug)]
pub struct TargetError {
    /// The name inside the container (`/proc`, `/dev/pts`), up to the component at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            Problem::Symlink => write!(
                f,
                "{path} in the container's tree is a symbolic link, where fleet-node mounts or \
                 makes a directory; links there are never followed (the container's root may \
                 point them at the host), so the start is refused: remove the link from the \
                 container's upper layer, and a directory is made at the next start"
            ),
            Problem::NotDirectory => write!(
                f,
                "{path} in the container's tree is not a directory, where fleet-node mounts one; \
                 the start is refused: remove it from the container's upper layer"
            ),
            Problem::NotFile => write!(
                f,
                "{path} in the container's tree is not a regular file, where fleet-node binds one"
            ),
            Problem::BadName => write!(f, "{path}: not a relative path of plain names"),
            Problem::Io(action, e) => write!(f, "{action} {path} in the container's tree: {e}"),
        }
    }
}

impl std::error::Error for TargetError {}

/// A name in the tree, held as an `O_PATH` descriptor of what was checked.
#[derive(Debug)]
pub struct Target {
    fd: OwnedFd,
    path: PathBuf,
    dir: bool,
}

impl Target {
    /// `/proc/self/fd/N`: the kernel follows it to this very inode (for calls that take a path).
    pub fn fd_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// The name inside the container (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it is a directory (else a file of some kind, never a symlink).
    pub fn is_dir(&self) -> bool {
        self.dir
    }
}

impl AsFd for Target {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The root of a container's tree (the overlay, once mounted), as a descriptor.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens the tree's root. `path` is the store's mount point, a host-controlled path (the
    /// container's directory pinned as /proc/self/fd/N), opened after the overlay is on it, so
    /// the descriptor is the overlay's root.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Directory `rel` (such as `sys/fs/cgroup`), each missing component made with `mode`.
    pub fn dir(&self, rel: &str, mode: u32) -> Result<Target, TargetError> {
        self.walk(rel, Some(mode), Want::Dir)
    }

    /// Directory `rel` when every component exists; `None` when one does not.
    pub fn existing_dir(&self, rel: &str) -> Result<Option<Target>, TargetError> {
        optional(self.walk(rel, None, Want::Dir))
    }

    /// File or directory `rel` (a mask's target), `None` when it does not exist. Never a symlink.
    pub fn find(&self, rel: &str) -> Result<Option<Target>, TargetError> {
        optional(self.walk(rel, None, Want::Any))
    }

    /// A regular file at `rel` to bind a file onto, made empty with `mode` when missing; its
    /// parent directory must exist.
    pub fn file(&self, rel: &str, mode: u32) -> Result<Target, TargetError> {
        let (parent, name) = split(rel)?;
        let dir = self.walk_path(parent, None, Want::Dir)?;
        let path = Path::new("/").join(rel);
        let made = nix::fcntl::openat(
            &dir.fd,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        );
        match made {
            Ok(_) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(io_error("create", &path, e)),
        }
        let target = self.open_in(&dir.fd, name, &path, Want::Any)?;
        if target.dir {
            return Err(TargetError {
                path,
                problem: Problem::NotFile,
            });
        }
        Ok(target)
    }

    /// Removes the name `rel` (not a directory) from its parent, found as [`Root::find`] finds
    /// names; a missing name is no error.
    pub fn unlink(&self, rel: &str) -> Result<(), TargetError> {
        let (parent, name) = split(rel)?;
        let Some(dir) = optional(self.walk_path(parent, None, Want::Dir))? else {
            return Ok(());
        };
        match nix::unistd::unlinkat(&dir.fd, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(io_error("remove", &Path::new("/").join(rel), e)),
        }
    }

    /// Makes symlink `rel` pointing at `to` (fleet-node's own links in a fresh tmpfs), in the
    /// descriptor of its parent.
    pub fn symlink(&self, rel: &str, to: &Path) -> Result<(), TargetError> {
        let (parent, name) = split(rel)?;
        let dir = self.walk_path(parent, None, Want::Dir)?;
        nix::unistd::symlinkat(to, &dir.fd, name)
            .map_err(|e| io_error("create symlink", &Path::new("/").join(rel), e))
    }

    /// Makes the tree's root the working directory (for pivot_root).
    pub fn chdir(&self) -> io::Result<()> {
        nix::unistd::fchdir(&self.fd).map_err(io::Error::from)
    }

    fn walk(&self, rel: &str, create: Option<u32>, want: Want) -> Result<Target, TargetError> {
        let path = checked(rel)?;
        self.walk_path(&path, create, want)
    }

    /// Opens `rel` from the root, making missing directories with `create` when given. The
    /// whole name is tried in one `openat2` first, under the same rule (no component may be a
    /// symlink, none may lead out), and when only its last component is missing, its parent;
    /// anything else goes component by component, which makes what is missing and names the
    /// component at fault.
    fn walk_path(
        &self,
        rel: &Path,
        create: Option<u32>,
        want: Want,
    ) -> Result<Target, TargetError> {
        let whole = Path::new("/").join(rel);
        if let Ok(found) = self.open_in(&self.fd, rel.as_os_str(), &whole, want) {
            return Ok(found);
        }
        if let (Some(mode), Some(parent), Some(name)) = (create, rel.parent(), rel.file_name())
            && !parent.as_os_str().is_empty()
            && let Ok(dir) = self.open_in(&self.fd, parent.as_os_str(), &whole, Want::Dir)
        {
            match mkdirat(&dir.fd, name, Mode::from_bits_truncate(mode)) {
                // EEXIST: made meanwhile; the open below checks what it is.
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(io_error("create directory", &whole, e)),
            }
            return self.open_in(&dir.fd, name, &whole, want);
        }
        self.walk_components(rel, create, want)
    }

    /// [`Root::walk_path`] one component at a time.
    fn walk_components(
        &self,
        rel: &Path,
        create: Option<u32>,
        want: Want,
    ) -> Result<Target, TargetError> {
        let mut at = Target {
            fd: self.fd.try_clone().map_err(|e| TargetError {
                path: PathBuf::from("/"),
                problem: Problem::Io("open", e),
            })?,
            path: PathBuf::from("/"),
            dir: true,
        };
        let parts: Vec<_> = rel.iter().collect();
        for (i, part) in parts.iter().enumerate() {
            let path = at.path.join(part);
            let last = i + 1 == parts.len();
            let need = if last { want } else { Want::Dir };
            at = match self.open_in(&at.fd, part, &path, need) {
                Err(TargetError {
                    problem: Problem::Io(_, e),
                    ..
                }) if e.raw_os_error() == Some(libc::ENOENT) && create.is_some() => {
                    let mode = create.unwrap_or(0o755);
                    match mkdirat(&at.fd, *part, Mode::from_bits_truncate(mode)) {
                        // EEXIST: made meanwhile; the open below checks what it is.
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(io_error("create directory", &path, e)),
                    }
                    self.open_in(&at.fd, part, &path, need)?
                }
                other => other?,
            };
        }
        Ok(at)
    }

    /// Opens `name` in directory `dir` under the rule, checking what it is.
    fn open_in(
        &self,
        dir: &OwnedFd,
        name: &std::ffi::OsStr,
        path: &Path,
        want: Want,
    ) -> Result<Target, TargetError> {
        let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
        if want == Want::Dir {
            flags |= OFlag::O_DIRECTORY;
        }
        let how = OpenHow::new().flags(flags).resolve(RESOLVE);
        let fd = openat2(dir, name, how).map_err(|e| {
            let problem = match e {
                Errno::ELOOP => Problem::Symlink,
                Errno::ENOTDIR => Problem::NotDirectory,
                e => Problem::Io("open", e.into()),
            };
            TargetError {
                path: path.to_owned(),
                problem,
            }
        })?;
        // O_DIRECTORY already refused anything else
        let dir = want == Want::Dir || {
            let st = fstat(&fd).map_err(|e| io_error("inspect", path, e))?;
            SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR
        };
        Ok(Target {
            fd,
            path: path.to_owned(),
            dir,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Dir,
    Any,
}

fn io_error(action: &'static str, path: &Path, e: Errno) -> TargetError {
    TargetError {
        path: path.to_owned(),
        problem: Problem::Io(action, e.into()),
    }
}

/// `Ok(None)` for a missing name.
fn optional(found: Result<Target, TargetError>) -> Result<Option<Target>, TargetError> {
    match found {
        Ok(t) => Ok(Some(t)),
        Err(TargetError {
            problem: Problem::Io(_, e),
            ..
        }) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `rel` as a relative path of plain names.
fn checked(rel: &str) -> Result<PathBuf, TargetError> {
    let path = Path::new(rel);
    if rel.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(TargetError {
            path: path.to_owned(),
            problem: Problem::BadName,
        });
    }
    Ok(path.to_owned())
}

/// Parent (possibly empty) and last name of a checked `rel`.
fn split(rel: &str) -> Result<(&Path, &std::ffi::OsStr), TargetError> {
    checked(rel)?;
    let path = Path::new(rel);
    let name = path.file_name().expect("checked: ends in a name");
    Ok((path.parent().unwrap_or(Path::new("")), name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn missing_directories_are_made_inside_and_found_again() {
        let (dir, root) = tree();
        let t = root.dir("a/b/c", 0o755).unwrap();
        assert!(t.is_dir());
        assert_eq!(t.path(), Path::new("/a/b/c"));
        assert!(dir.path().join("a/b/c").is_dir());
        assert!(root.find("a/b").unwrap().unwrap().is_dir());
        assert!(root.find("a/x").unwrap().is_none());
        assert!(root.existing_dir("a/x/y").unwrap().is_none());
    }

    #[test]
    fn a_symlink_anywhere_on_the_way_is_refused_and_nothing_is_made_behind_it() {
        let (dir, root) = tree();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("proc")).unwrap();
        symlink("../../../../..", dir.path().join("up")).unwrap();
        std::fs::create_dir(dir.path().join("sys")).unwrap();
        symlink(outside.path(), dir.path().join("sys/fs")).unwrap();
        for rel in ["proc", "proc/x", "up/tmp", "sys/fs/cgroup"] {
            let err = root.dir(rel, 0o755).unwrap_err();
            assert!(matches!(err.problem, Problem::Symlink), "{rel}: {err}");
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert!(matches!(
            root.find("proc").unwrap_err().problem,
            Problem::Symlink
        ));
        assert!(matches!(
            root.file("proc/kcore", 0o444).unwrap_err().problem,
            Problem::Symlink
        ));
        assert!(matches!(
            root.symlink("proc/ptmx", Path::new("x"))
                .unwrap_err()
                .problem,
            Problem::Symlink
        ));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_file_where_a_directory_goes_is_refused_and_a_directory_where_a_file_goes_too() {
        let (dir, root) = tree();
        std::fs::write(dir.path().join("dev"), "").unwrap();
        let err = root.dir("dev", 0o755).unwrap_err();
        assert!(matches!(err.problem, Problem::NotDirectory), "{err}");
        assert!(err.to_string().starts_with("/dev in the container's tree"));
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::create_dir(dir.path().join("d/null")).unwrap();
        let err = root.file("d/null", 0o444).unwrap_err();
        assert!(matches!(err.problem, Problem::NotFile), "{err}");
        let made = root.file("d/zero", 0o444).unwrap();
        assert!(!made.is_dir());
        assert!(dir.path().join("d/zero").is_file());
    }

    #[test]
    fn names_with_dots_or_absolute_paths_are_not_names() {
        let (_dir, root) = tree();
        for rel in ["", "/etc", "a/../b", "./a"] {
            let err = root.dir(rel, 0o755).unwrap_err();
            assert!(matches!(err.problem, Problem::BadName), "{rel:?}");
        }
    }
}
