//! Quotas inside a container's disk (`disk.user_quota`, OpenVZ's second-level quotas): ext4's
//! `quota` feature (quota files kept as hidden inodes, usage counted from the mount on) and the
//! `usrquota,grpquota` mount options (limits enforced from the mount on).
//!
//! The image's superblock is the one record of whether a disk has quotas: `Image::mount`
//! reads it ([`has_quota`]) to choose the options, and `Image::set_quota` switches it with
//! tune2fs ([`switch`]) while the image is detached (a spec change takes effect at the next start). Whether the kernel can do
//! it at all is [`kernel_support`]: a kernel without the QFMT_V2 format (this machine's) mounts
//! such a disk read-only, so the node refuses instead, and says so in its hello.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::OnceLock;

use fleet_protocol::disk::USER_QUOTA_KERNEL;

use super::DiskError;
use super::command::{run, run_accepting};

/// ext4's superblock: at byte 1024 of the device; its magic and read-only feature flags.
const SUPERBLOCK: u64 = 1024;
const MAGIC_AT: usize = 0x38;
const MAGIC: u16 = 0xef53;
const RO_COMPAT_AT: usize = 0x64;
/// EXT4_FEATURE_RO_COMPAT_QUOTA.
const RO_COMPAT_QUOTA: u32 = 0x0100;

/// Mount options of a disk with quotas, beyond the host's (`image.rs`'s `HOST_MOUNT_OPTIONS`).
pub const QUOTA_MOUNT_OPTIONS: &str = "usrquota,grpquota";

/// mkfs.ext4's arguments for a disk with quotas: user and group quota inodes, no project ones.
pub fn mkfs_args(quota: bool) -> &'static [&'static str] {
    if quota {
        &["-O", "quota", "-E", "quotatype=usrquota:grpquota"]
    } else {
        &[]
    }
}

/// Whether the superblock `block` (1024 bytes read at [`SUPERBLOCK`]) is ext4's with the quota
/// feature; an error when it is no ext superblock at all.
pub fn superblock_has_quota(block: &[u8]) -> Result<bool, String> {
    let word = |at: usize, n: usize| block.get(at..at + n).ok_or("short superblock");
    let magic = u16::from_le_bytes(word(MAGIC_AT, 2)?.try_into().expect("two bytes"));
    if magic != MAGIC {
        return Err(format!("no ext4 superblock (magic {magic:#06x})"));
    }
    let ro_compat = u32::from_le_bytes(word(RO_COMPAT_AT, 4)?.try_into().expect("four bytes"));
    Ok(ro_compat & RO_COMPAT_QUOTA != 0)
}

/// Whether the image at `path` has the quota feature, read from its superblock (which tune2fs
/// and mkfs write; the image is a file in the 0700 store, opened without following a link).
pub fn has_quota(path: &Path) -> Result<bool, DiskError> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| io("open", path, source))?;
    let mut block = [0u8; 1024];
    file.read_exact_at(&mut block, SUPERBLOCK)
        .map_err(|source| io("read the superblock of", path, source))?;
    superblock_has_quota(&block).map_err(|e| io("read the superblock of", path, invalid(e)))
}

/// Switches the quota feature of the detached image at `path` on or off with tune2fs.
pub fn switch(path: &Path, on: bool) -> Result<(), DiskError> {
    let path = path.as_os_str();
    // tune2fs wants a checked file system before it adds the quota inodes (it counts usage
    // from the files there).
    run_accepting(
        "e2fsck",
        [OsStr::new("-f"), OsStr::new("-p"), path],
        &[0, 1],
    )?;
    let feature = if on { "quota" } else { "^quota" };
    let mut args: Vec<&OsStr> = vec![OsStr::new("-O"), OsStr::new(feature)];
    if on {
        args.extend([OsStr::new("-Q"), OsStr::new("usrquota,grpquota")]);
    }
    args.push(path);
    run("tune2fs", args)?;
    Ok(())
}

/// Whether this kernel can keep quotas on a container's disk: `Ok` when the QFMT_V2 format is
/// built in or loaded (its functions in /proc/kallsyms) or is a module of this kernel (in
/// `/lib/modules/<release>/modules.builtin` or `modules.dep`: the kernel loads it when the disk
/// is mounted); otherwise why not, naming the kernel and what is missing. Probed once per
/// process.
pub fn kernel_support() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let release = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default();
            let modules = Path::new("/lib/modules").join(&release);
            let listed = ["modules.builtin", "modules.dep"].iter().any(|f| {
                std::fs::read_to_string(modules.join(f))
                    .is_ok_and(|text| lists_quota_v2_module(&text))
            });
            if listed || kallsyms_has_quota_v2() {
                return Ok(());
            }
            Err(format!(
                "disk.user_quota needs {USER_QUOTA_KERNEL}; this kernel ({release}) has none"
            ))
        })
        .clone()
}

/// Whether a modules.dep or modules.builtin text names quota_v2 (`kernel/fs/quota/quota_v2.ko`,
/// compressed or not).
pub fn lists_quota_v2_module(text: &str) -> bool {
    text.lines().any(|l| {
        let name = l.split(':').next().unwrap_or_default();
        name.rsplit('/')
            .next()
            .is_some_and(|base| base == "quota_v2.ko" || base.starts_with("quota_v2.ko."))
    })
}

/// Whether the running kernel has QFMT_V2's functions (built in, or the module loaded).
fn kallsyms_has_quota_v2() -> bool {
    let mut text = String::new();
    File::open("/proc/kallsyms")
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_ok()
        && text
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some("v2_read_file_info"))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> DiskError {
    DiskError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_feature_is_read_from_the_superblock() {
        let mut block = [0u8; 1024];
        assert!(superblock_has_quota(&block).is_err());
        block[MAGIC_AT..MAGIC_AT + 2].copy_from_slice(&MAGIC.to_le_bytes());
        assert_eq!(superblock_has_quota(&block), Ok(false));
        // metadata_csum (0x400) and huge_file (0x8) alone are not quota.
        block[RO_COMPAT_AT..RO_COMPAT_AT + 4].copy_from_slice(&0x0408u32.to_le_bytes());
        assert_eq!(superblock_has_quota(&block), Ok(false));
        block[RO_COMPAT_AT..RO_COMPAT_AT + 4].copy_from_slice(&0x0508u32.to_le_bytes());
        assert_eq!(superblock_has_quota(&block), Ok(true));
        assert!(superblock_has_quota(&block[..0x60]).is_err());
    }

    #[test]
    fn the_module_lists_are_read_for_quota_v2() {
        let dep = "kernel/fs/quota/quota_tree.ko:\n\
                   kernel/fs/quota/quota_v2.ko: kernel/fs/quota/quota_tree.ko\n";
        assert!(lists_quota_v2_module(dep));
        assert!(lists_quota_v2_module("kernel/fs/quota/quota_v2.ko.xz: x\n"));
        assert!(!lists_quota_v2_module("kernel/fs/quota/quota_v1.ko:\n"));
        assert!(!lists_quota_v2_module(
            "kernel/fs/quota/quota_tree.ko: quota_v2.ko\n"
        ));
    }
}
