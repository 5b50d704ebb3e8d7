//! Shifting the owners of a container's writable layer (its overlay upper and work
//! directories) from one side to the other when it switches between privileged and
//! unprivileged. Every byte of that tree was written by the container, so the walk never
//! follows a path: each directory is opened relative to its parent's descriptor with
//! O_NOFOLLOW, each other entry is reached as an O_PATH|O_NOFOLLOW descriptor (no device is
//! ever opened for real), symlinks are changed with AT_SYMLINK_NOFOLLOW, and the walk does not
//! cross into another filesystem. chown clears set-id bits and file capabilities, so both are
//! read first and put back (the capabilities with their root uid moved). POSIX ACLs and
//! overlayfs metadata are moved too; see [`super::ids`].

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::unistd::{Gid, Uid};

use super::ids::IdShift;
use crate::error::{Error, Result};
use crate::sys::xattr;

/// Deeper directories than this stop the shift (each level holds a descriptor). No real system
/// tree comes close; a container that nests this deep only keeps itself from switching.
pub const MAX_DEPTH: usize = 768;

/// What a shift did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shifted {
    /// Entries looked at (hard links once).
    pub entries: u64,
    /// Entries whose owner or group had no id on the target side (they became nobody).
    pub unmappable: u64,
}

const CAPABILITY: &CStr = c"security.capability";
const ACLS: [&CStr; 2] = [c"system.posix_acl_access", c"system.posix_acl_default"];

fn fail<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(nix::Error) -> Error + 'a {
    move |e| Error::Io {
        action,
        path: path.to_owned(),
        source: io::Error::from(e),
    }
}

fn io_fail<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// One open directory of the walk and the names in it still to visit.
struct Level {
    dir: Dir,
    names: Vec<CString>,
    next: usize,
    path: PathBuf,
}

fn entry_names(dir: &mut Dir, path: &Path) -> Result<Vec<CString>> {
    let mut out = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(fail("read directory", path))?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Moves every owner, group, capability and ACL below (and of) the directory `root` by
/// `shift`. Running it again after a cut-off run finishes the job and changes nothing else.
pub fn shift_tree(root: &Path, shift: IdShift) -> Result<Shifted> {
    let mut done = Shifted::default();
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir = Dir::open(root, flags, Mode::empty()).map_err(fail("open", root))?;
    let st = nix::sys::stat::fstat(&dir).map_err(fail("stat", root))?;
    let device = st.st_dev;
    fix_inode(dir.as_fd(), &st, shift, root, &mut done)?;
    let names = entry_names(&mut dir, root)?;
    let mut stack = vec![Level {
        dir,
        names,
        next: 0,
        path: root.to_owned(),
    }];
    let mut seen = HashSet::new();
    loop {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else {
            break;
        };
        let Some(name) = top.names.get(top.next).cloned() else {
            stack.pop();
            continue;
        };
        top.next += 1;
        let path = top
            .path
            .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()));
        let parent = top.dir.as_fd();
        let st = nix::sys::stat::fstatat(parent, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(fail("stat", &path))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFLNK {
            done.entries += 1;
            let (uid, gid) = (shift.id(st.st_uid), shift.id(st.st_gid));
            done.unmappable +=
                u64::from(shift.unmappable(st.st_uid) || shift.unmappable(st.st_gid));
            if (uid, gid) != (st.st_uid, st.st_gid) {
                nix::unistd::fchownat(
                    parent,
                    name.as_c_str(),
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(fail("chown", &path))?;
            }
            continue;
        }
        if kind == SFlag::S_IFDIR {
            if st.st_dev != device {
                continue;
            }
            if depth >= MAX_DEPTH {
                return Err(Error::Io {
                    action: "shift owners of",
                    path,
                    source: io::Error::other(format!(
                        "directories nest deeper than {MAX_DEPTH} levels"
                    )),
                });
            }
            let mut sub = Dir::openat(parent, name.as_c_str(), flags, Mode::empty())
                .map_err(fail("open", &path))?;
            let opened = nix::sys::stat::fstat(&sub).map_err(fail("stat", &path))?;
            same_inode(&st, &opened, &path)?;
            fix_inode(sub.as_fd(), &opened, shift, &path, &mut done)?;
            let names = entry_names(&mut sub, &path)?;
            stack.push(Level {
                dir: sub,
                names,
                next: 0,
                path,
            });
            continue;
        }
        if st.st_nlink > 1 && !seen.insert(st.st_ino) {
            continue;
        }
        let fd = nix::fcntl::openat(
            parent,
            name.as_c_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail("open", &path))?;
        let opened = nix::sys::stat::fstat(&fd).map_err(fail("stat", &path))?;
        same_inode(&st, &opened, &path)?;
        fix_inode(fd.as_fd(), &opened, shift, &path, &mut done)?;
    }
    Ok(done)
}

/// The entry opened is the one stat'ed (nothing swapped it in between).
fn same_inode(a: &FileStat, b: &FileStat, path: &Path) -> Result<()> {
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(Error::Io {
            action: "shift owners of",
            path: path.to_owned(),
            source: io::Error::other("the entry changed while it was opened"),
        });
    }
    Ok(())
}

/// Owner, group, set-id bits, capabilities, ACLs and overlay metadata of one opened inode
/// (a directory descriptor or an O_PATH one). Attribute calls go through /proc/self/fd/N, which
/// reaches the opened inode itself.
fn fix_inode(
    fd: BorrowedFd<'_>,
    st: &FileStat,
    shift: IdShift,
    path: &Path,
    done: &mut Shifted,
) -> Result<()> {
    done.entries += 1;
    let (uid, gid) = (shift.id(st.st_uid), shift.id(st.st_gid));
    done.unmappable += u64::from(shift.unmappable(st.st_uid) || shift.unmappable(st.st_gid));
    let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let names = match xattr::list(&proc) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Vec::new(),
        Err(e) => return Err(io_fail("list attributes of", path)(e)),
    };
    let get = |name: &CStr| xattr::get(&proc, name).map_err(io_fail("read attribute of", path));
    let capability = match names.iter().any(|n| n.as_c_str() == CAPABILITY) {
        true if kind == SFlag::S_IFREG => Some(get(CAPABILITY)?),
        _ => None,
    };
    // ACLs and overlay metadata first, the owner last but for the capabilities (which chown
    // clears): a shift cut off after an entry's chown finds that entry done.
    for name in &names {
        if ACLS.contains(&name.as_c_str()) {
            let value = get(name)?;
            if let Some(moved) = shift.acl(&value).filter(|m| *m != value) {
                xattr::set(&proc, name, &moved).map_err(io_fail("set ACL of", path))?;
            }
        } else if matches!(kind, SFlag::S_IFREG | SFlag::S_IFDIR)
            && let Some(renamed) = shift.xattr_name(name.to_bytes())
        {
            let value = get(name)?;
            let renamed = CString::new(renamed).expect("no NUL in an attribute name");
            xattr::set(&proc, &renamed, &value).map_err(io_fail("set attribute of", path))?;
            xattr::remove(&proc, name).map_err(io_fail("remove attribute of", path))?;
        }
    }
    if (uid, gid) != (st.st_uid, st.st_gid) {
        nix::unistd::fchownat(
            fd,
            c"",
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_EMPTY_PATH,
        )
        .map_err(fail("chown", path))?;
        if kind != SFlag::S_IFDIR && st.st_mode & 0o6000 != 0 {
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &proc,
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(fail("chmod", path))?;
        }
    }
    if let Some(value) = capability
        && let Some(moved) = shift.capability(&value)
    {
        xattr::set(&proc, CAPABILITY, &moved).map_err(io_fail("set capabilities of", path))?;
    }
    Ok(())
}
