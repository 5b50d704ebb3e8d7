//! Copying a container's writable layer for snapshots and clones: its disk image (a sparse
//! file) or its upper directory (a tree with overlay whiteouts, xattrs and owners of its uid
//! range). GNU cp does both: `--reflink=auto` shares the blocks (FICLONE) where the filesystem
//! can (XFS, btrfs) and falls back to a copy; `--sparse=always` keeps holes; `-a` keeps owners,
//! modes, times, xattrs (the overlay's `trusted.`/`user.overlay.*`), device nodes (whiteouts)
//! and hard links, and never follows a link of the container's (docs/decisions.md, "Snapshots
//! and clones"). A running container is frozen for the copy, after a syncfs, so the copy is
//! what its processes last wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::container::Runtime;
use crate::disk::paths::{image_path, inodes_path, mount_path};
use crate::error::{Error, Result, io_err};

pub use fleet_protocol::snapshot::LayerKind;

/// The container's writable layer as files to copy.
pub fn layer_of(runtime: &Runtime, name: &str) -> LayerKind {
    if image_path(&runtime.store.layout(name)).is_file() {
        LayerKind::Disk
    } else {
        LayerKind::Upper
    }
}

/// Copies the layer of container `name` into `to` (a new directory): `disk.img` and
/// `disk.inodes`, or `upper/`. `running`: freeze the cgroup around the copy.
pub fn copy_out(runtime: &Runtime, name: &str, to: &Path, running: bool) -> Result<LayerKind> {
    let layout = runtime.store.layout(name);
    let kind = layer_of(runtime, name);
    let frozen = if running {
        let frozen = super::freeze::freeze(&runtime.cgroup(name))?;
        let synced = match kind {
            LayerKind::Disk => mount_path(&layout),
            LayerKind::Upper => layout.dir.clone(),
        };
        sync_fs(&synced)?;
        Some(frozen)
    } else {
        None
    };
    std::fs::create_dir_all(to).map_err(io_err("create directory", to))?;
    match kind {
        LayerKind::Disk => {
            cp(&[&image_path(&layout)], &to.join("disk.img"))?;
            let inodes = inodes_path(&layout);
            if inodes.is_file() {
                cp(&[&inodes], &to.join("disk.inodes"))?;
            }
        }
        LayerKind::Upper => cp(&[&layout.upper], &to.join("upper"))?,
    }
    if let Some(frozen) = frozen {
        frozen.thaw()?;
    }
    Ok(kind)
}

/// Puts a copied layer (from [`copy_out`]) in place as container `name`'s, which is stopped:
/// each piece copied next to its place and renamed over it, then the old one removed.
pub fn copy_in(runtime: &Runtime, name: &str, from: &Path, kind: LayerKind) -> Result<()> {
    let layout = runtime.store.layout(name);
    match kind {
        LayerKind::Disk => {
            let image = image_path(&layout);
            // The image stays mounted on the host between starts; a new file takes its place.
            crate::disk::Image::open(&image)
                .detach()
                .map_err(|source| Error::Disk {
                    name: name.to_owned(),
                    source: Box::new(source),
                })?;
            for file in ["disk.img", "disk.inodes"] {
                let source = from.join(file);
                if !source.is_file() {
                    continue;
                }
                let target = layout.dir.join(file);
                let staged = layout.dir.join(format!(".{file}.incoming"));
                let _ = std::fs::remove_file(&staged);
                cp(&[&source], &staged)?;
                std::fs::rename(&staged, &target).map_err(io_err("rename", &staged))?;
            }
        }
        LayerKind::Upper => {
            let staged = layout.dir.join(".upper.incoming");
            let old = layout.dir.join(".upper.outgoing");
            for leftover in [&staged, &old] {
                remove_tree(leftover)?;
            }
            cp(&[&from.join("upper")], &staged)?;
            if layout.upper.exists() {
                std::fs::rename(&layout.upper, &old).map_err(io_err("rename", &layout.upper))?;
            }
            std::fs::rename(&staged, &layout.upper).map_err(io_err("rename", &staged))?;
            remove_tree(&old)?;
            // The overlay's work directory belongs to the old upper layer.
            remove_tree(&layout.work)?;
            std::fs::create_dir_all(&layout.work)
                .map_err(io_err("create directory", &layout.work))?;
        }
    }
    Ok(())
}

/// Bytes the files under `path` take on disk (holes not counted).
pub fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    own + std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| allocated(&e.path()))
        .sum::<u64>()
}

/// Removes a directory tree of ours (under the store or the snapshots); absent is fine.
pub fn remove_tree(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

fn cp(sources: &[&PathBuf], to: &Path) -> Result<()> {
    let out = Command::new("cp")
        .args([
            "-a",
            "--reflink=auto",
            "--sparse=always",
            "--no-target-directory",
        ])
        .arg("--")
        .args(sources)
        .arg(to)
        .output()
        .map_err(io_err("run cp to", to))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        program: format!(
            "cp -a --reflink=auto --sparse=always {} {}",
            sources
                .iter()
                .map(|s| s.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            to.display()
        ),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

fn sync_fs(path: &Path) -> Result<()> {
    let dir = std::fs::File::open(path).map_err(io_err("open", path))?;
    nix::unistd::syncfs(&dir).map_err(|e| io_err("syncfs", path)(e.into()))
}
