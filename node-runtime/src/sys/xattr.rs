//! Extended attributes by path (listxattr, getxattr, setxattr, removexattr). Used on
//! `/proc/self/fd/N` paths of descriptors opened with O_PATH|O_NOFOLLOW, so the attribute
//! calls reach exactly the inode that was opened without following anything the container
//! controls. nix does not wrap these.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// Calls `f(buffer, size)` with a growing buffer until the value fits; the kernel answers
/// ERANGE when it does not (the attribute may grow between the size query and the read).
fn read_sized(mut f: impl FnMut(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = f(buf.as_mut_ptr().cast(), buf.len());
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ERANGE) || buf.len() >= 1 << 20 {
            return Err(err);
        }
        let len = buf.len() * 4;
        buf.resize(len, 0);
    }
}

/// Names of the attributes of `path` (following a final symlink, such as a /proc fd link).
pub fn list(path: &Path) -> io::Result<Vec<CString>> {
    let c = c_path(path)?;
    // SAFETY: listxattr writes at most `size` bytes into `buf`, which is valid for that long;
    // `c` is a NUL-terminated path alive for the call.
    let raw = read_sized(|buf, size| unsafe { libc::listxattr(c.as_ptr(), buf.cast(), size) })?;
    Ok(raw
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| CString::new(n).expect("split at NUL"))
        .collect())
}

/// The value of attribute `name` of `path`.
pub fn get(path: &Path, name: &CStr) -> io::Result<Vec<u8>> {
    let c = c_path(path)?;
    // SAFETY: getxattr writes at most `size` bytes into `buf`, valid for that long; both
    // strings are NUL-terminated and alive for the call.
    read_sized(|buf, size| unsafe { libc::getxattr(c.as_ptr(), name.as_ptr(), buf, size) })
}

/// Sets attribute `name` of `path` to `value`.
pub fn set(path: &Path, name: &CStr, value: &[u8]) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: setxattr reads `value.len()` bytes from `value` and two NUL-terminated strings,
    // all alive for the call.
    let rc = unsafe {
        libc::setxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes attribute `name` of `path`.
pub fn remove(path: &Path, name: &CStr) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: removexattr reads two NUL-terminated strings alive for the call.
    let rc = unsafe { libc::removexattr(c.as_ptr(), name.as_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
