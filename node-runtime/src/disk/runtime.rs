//! The container's disk as its writable layer: the image lives at `<container>/disk.img`, is
//! mounted at `<container>/disk`, and holds the overlay's `upper` and `work` directories, so
//! everything the container writes counts against its space and inodes. Containers whose spec
//! has no `disk_space` keep the store's plain directories.
//!
//! Called by the start verb before init is spawned; the image is sized to the spec there, which
//! is where shrinking and growing without CAP_SYS_RESOURCE happen (the container is stopped).

use std::fs;
use std::path::PathBuf;

use fleet_protocol::Resources;

use super::command::run;
use super::{INODES_MIN, Image};
use crate::container::Runtime;
use crate::error::{Error, Result, io_err};
use crate::limits::runtime::disk_error;
use crate::store::{Layout, atomic_write};

/// mke2fs's default bytes-per-inode, used when the spec gives a space but no inode count.
pub const DEFAULT_BYTES_PER_INODE: u64 = 16 << 10;

/// Where the container's image file lives.
pub fn image_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk.img")
}

/// Where the image is mounted on the host.
pub fn mount_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk")
}

/// Where the inode count the image was made with is recorded (ext4 cannot tell it apart from
/// mke2fs's rounding and from what online growth added).
pub fn inodes_path(layout: &Layout) -> PathBuf {
    layout.dir.join("disk.inodes")
}

/// Inodes for a disk of `space` bytes when the spec does not say.
pub fn default_inodes(space: u64) -> u64 {
    (space / DEFAULT_BYTES_PER_INODE).max(INODES_MIN)
}

impl Runtime {
    /// Makes (the first time), sizes and mounts the container's disk, returning the overlay's
    /// upper and work directories on it; the store's directories when the spec has no disk.
    /// Idempotent. The container must be stopped (its overlay holds the upper dir otherwise).
    pub fn writable_layer(&self, name: &str, resources: &Resources) -> Result<(PathBuf, PathBuf)> {
        let layout = self.store.layout(name);
        let Some(space) = resources.disk_space else {
            return Ok((layout.upper, layout.work));
        };
        let inodes = resources
            .disk_inodes
            .unwrap_or_else(|| default_inodes(space));
        let path = image_path(&layout);
        let target = mount_path(&layout);
        fs::create_dir_all(&target).map_err(io_err("create directory", &target))?;
        let recorded = fs::read_to_string(inodes_path(&layout))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        if !path.exists() {
            Image::create(&path, space, inodes).map_err(|e| disk_error(name, e))?;
        } else if recorded.is_some_and(|r| r != inodes) {
            rebuild(name, &layout, space, inodes)?;
        }
        if recorded != Some(inodes) {
            atomic_write(&inodes_path(&layout), inodes.to_string().as_bytes())?;
        }
        Image::open(&path)
            .resize_offline(space, Some(&target))
            .map_err(|e| disk_error(name, e))?;
        let upper = target.join("upper");
        let work = target.join("work");
        for dir in [&upper, &work] {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        Ok((upper, work))
    }
}

/// A new inode count means a new file system: makes one beside the old image, copies the files
/// over (`cp -a`), and renames it into place. The old image stays untouched until the rename,
/// so a failure (the files do not fit in the new count) or a crash leaves it as it was.
fn rebuild(name: &str, layout: &Layout, space: u64, inodes: u64) -> Result<()> {
    let path = image_path(layout);
    let target = mount_path(layout);
    let mut fresh_path = path.as_os_str().to_os_string();
    fresh_path.push(".new");
    let fresh_path = PathBuf::from(fresh_path);
    let fresh_mount = layout.dir.join("disk.new");
    let fresh = Image::open(&fresh_path);
    // Leftovers of an interrupted rebuild.
    fresh.detach().map_err(|e| disk_error(name, e))?;
    let _ = fs::remove_file(&fresh_path);
    let old = Image::open(&path);
    old.mount(&target).map_err(|e| disk_error(name, e))?;
    Image::create(&fresh_path, space, inodes).map_err(|e| disk_error(name, e))?;
    fs::create_dir_all(&fresh_mount).map_err(io_err("create directory", &fresh_mount))?;
    let copied = fresh
        .mount(&fresh_mount)
        .map_err(|e| disk_error(name, e))
        .and_then(|_| {
            let mut from = target.as_os_str().to_os_string();
            from.push("/.");
            run(
                "cp",
                [
                    "-a".as_ref(),
                    "--one-file-system".as_ref(),
                    from.as_os_str(),
                    fresh_mount.as_os_str(),
                ],
            )
            .map_err(|e| Error::InvalidSpec {
                name: name.to_owned(),
                message: format!(
                    "the container's files do not fit on a new disk with {inodes} inodes \
                     (the old disk is kept): {e}"
                ),
            })
        });
    fresh.detach().map_err(|e| disk_error(name, e))?;
    if let Err(err) = copied {
        let _ = fs::remove_file(&fresh_path);
        let _ = fs::remove_dir(&fresh_mount);
        return Err(err);
    }
    old.detach().map_err(|e| disk_error(name, e))?;
    fs::rename(&fresh_path, &path).map_err(io_err("rename into place", &path))?;
    let _ = fs::remove_dir(&fresh_mount);
    Ok(())
}
