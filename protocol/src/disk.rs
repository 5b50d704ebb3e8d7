//! The rules of a container's disk (`resources.disk.space` and `disk.inodes`) that both sides
//! apply: `fleet validate` refuses a spec that breaks them, with its file:line:column, and
//! `fleet-node` refuses the same values before it makes or grows an image. One place, so that
//! validate never calls valid what apply would refuse.

use crate::units::format_size;

/// Smallest disk: room for ext4's metadata and journal with space left for files.
pub const SPACE_MIN: u64 = 16 << 20;
/// Fewest inodes: ext4 reserves the first eleven, and lost+found takes one more.
pub const INODES_MIN: u64 = 64;
/// At most one inode per this many bytes of disk.
pub const BYTES_PER_INODE_MIN: u64 = 1024;
/// mke2fs's default bytes-per-inode, used when the spec gives a space but no inode count.
pub const DEFAULT_BYTES_PER_INODE: u64 = 16 << 10;

/// A disk value that breaks a rule: which field, the value as written, and what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskRuleError {
    /// Spec field (`disk.space`, `disk.inodes`).
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What would be valid.
    pub expected: String,
}

/// Inodes for a disk of `space` bytes when the spec does not say.
pub fn default_inodes(space: u64) -> u64 {
    (space / DEFAULT_BYTES_PER_INODE).max(INODES_MIN)
}

/// The most inodes a disk of `space` bytes may have.
pub fn max_inodes(space: u64) -> u64 {
    space / BYTES_PER_INODE_MIN
}

/// Checks a disk size and inode count (the default for the size when `None`).
pub fn check(space: u64, inodes: Option<u64>) -> Result<(), DiskRuleError> {
    if space < SPACE_MIN {
        return Err(DiskRuleError {
            field: "disk.space",
            value: format_size(space),
            expected: format!("a disk needs at least {}", format_size(SPACE_MIN)),
        });
    }
    let inodes = inodes.unwrap_or_else(|| default_inodes(space));
    let max = max_inodes(space);
    if !(INODES_MIN..=max).contains(&inodes) {
        return Err(DiskRuleError {
            field: "disk.inodes",
            value: inodes.to_string(),
            expected: format!(
                "valid for a {} disk is {INODES_MIN}..={max} (one inode per KiB at most)",
                format_size(space)
            ),
        });
    }
    Ok(())
}

/// What a kernel needs for `disk.user_quota`, as the node's hello and its refusals name it:
/// ext4's quota feature keeps its quota files in the QFMT_V2 format (`CONFIG_QFMT_V2`, module
/// `quota_v2`); a kernel without it mounts such a disk read-only.
pub const USER_QUOTA_KERNEL: &str = "the kernel's QFMT_V2 quota format (CONFIG_QFMT_V2, module \
                                     quota_v2), which ext4's quota feature needs";

/// `disk.user_quota` needs a disk of the container's own: the quotas live on its ext4.
pub fn check_user_quota(space: Option<u64>, user_quota: bool) -> Result<(), DiskRuleError> {
    if user_quota && space.is_none() {
        return Err(DiskRuleError {
            field: "disk.user_quota",
            value: "true".into(),
            expected: "quotas live on the container's own ext4 disk: set disk.space too \
                       (such as 1Gi)"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_are_bounded_by_the_disk_size() {
        assert_eq!(check(64 << 20, None), Ok(()));
        assert_eq!(check(64 << 20, Some(65536)), Ok(()));
        let e = check(64 << 20, Some(131072)).unwrap_err();
        assert_eq!(e.field, "disk.inodes");
        assert_eq!(
            e.expected,
            "valid for a 64Mi disk is 64..=65536 (one inode per KiB at most)"
        );
        assert_eq!(check(8 << 20, None).unwrap_err().field, "disk.space");
        assert_eq!(check(1 << 30, Some(63)).unwrap_err().field, "disk.inodes");
    }

    #[test]
    fn user_quota_needs_a_disk_of_its_own() {
        assert_eq!(check_user_quota(Some(1 << 30), true), Ok(()));
        assert_eq!(check_user_quota(None, false), Ok(()));
        let e = check_user_quota(None, true).unwrap_err();
        assert_eq!(e.field, "disk.user_quota");
        assert!(e.expected.contains("disk.space"), "{}", e.expected);
    }
}
