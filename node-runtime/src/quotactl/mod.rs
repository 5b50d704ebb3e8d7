//! The quotactl broker of `disk.user_quota` (OpenVZ's second-level quotas): container root
//! manages per-user and per-group quotas on its own disk with the standard tools, although
//! `quotactl` needs CAP_SYS_ADMIN in the user namespace of the disk's superblock, which is the
//! host's (an ext4 on a loop device cannot be mounted from a user namespace).
//!
//! The design (docs/limits.md, "Second-level quotas"; docs/decisions.md): the container's
//! seccomp filter answers `quotactl` and `quotactl_fd` with SECCOMP_RET_USER_NOTIF; a host
//! process holding the listener reads each call, and [`decide`] checks it: an allow-listed
//! command ([`call`]), the container's own disk named (a name compared as bytes against the
//! fixed set the container sees it under, never resolved; or a descriptor whose file is on it),
//! a caller of the container's own user namespace allowed to ask (container root for every
//! change), an id the container maps ([`ids`]), passed as the host's id. Then the broker makes
//! the call on the host against the disk's real device and answers with its result.
//!
//! What is here: the checks, pure and unit-tested (the attack cases among them: another
//! container's device, ids outside the range, a nested namespace), and the loop that answers a
//! listener ([`broker`]), tested against the real kernel with the container filter
//! (`seccomp::Filter::build_for`), and a running container read from /proc ([`found`]: its
//! disk's names are what its own mount table shows), and the hand-over of a listener over a
//! unix socket ([`handover`]), and [`serve`], what the broker process
//! (`fleet-node quota-broker`, started by `container/quota_broker.rs`) runs.

pub mod broker;
pub mod call;
pub mod decide;
pub mod found;
pub mod handover;
pub mod ids;

pub use call::{Call, Op, QuotaType, Target};
pub use decide::{Caller, Container, Named, Plan, decide, next_id_inside};
pub use ids::IdMap;

/// Answers the quota calls on `listener` for the container whose init is host pid `init` and
/// whose disk is on the loop device `device`, until the listener hangs up.
pub fn serve(
    listener: std::os::fd::OwnedFd,
    init: i32,
    device: &std::path::Path,
) -> std::io::Result<()> {
    let host_device = std::ffi::CString::new(device.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::other("NUL in the device path"))?;
    let container = Container::of(init, device)?;
    broker::Broker {
        listener,
        container,
        host_device,
    }
    .serve()
}
