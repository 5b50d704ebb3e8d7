//! The broker's checks, pure: whether a container's quota call is made on the host, and as
//! what. Every call must be allow-listed, name the container's own disk (by one of the names
//! the container sees it under, compared as bytes, never looked up; or a descriptor of a file
//! on it), come from a process of the container's own user namespace with the right to ask,
//! and name an id the container maps; the id is then passed as the host's.

use super::call::{Call, Op, QFMT_VFS_V1, QuotaType, Target};
use super::ids::IdMap;

/// The container a broker serves, fixed when it starts.
#[derive(Debug, Clone)]
pub struct Container {
    /// The names a process inside may give its disk's device as (`/dev/loop7`, as its mount
    /// table shows it); compared byte for byte.
    pub disk_names: Vec<Vec<u8>>,
    /// The disk's device number (`st_rdev` of its loop device, `st_dev` of its files).
    pub disk_dev: u64,
    /// The container's user namespace (the inode of `/proc/<init>/ns/user`).
    pub userns: u64,
    /// Its uid map (inside to host).
    pub uids: IdMap,
    /// Its gid map.
    pub gids: IdMap,
}

/// The calling process as the host sees it (`/proc/<pid>/status` and `ns/user`, read before
/// the notification is checked as still valid).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Its user namespace's inode.
    pub userns: u64,
    /// Effective uid, a host id.
    pub euid: u32,
    /// Effective gid and supplementary groups, host ids.
    pub groups: Vec<u32>,
}

/// What the call's file system argument turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    /// `quotactl`'s special name, read from the caller's memory (`None`: a null pointer).
    Special(Option<&'a [u8]>),
    /// `quotactl_fd`'s descriptor: the device its file lives on.
    FdOn(u64),
}

/// A call to make on the host: the command, the type and the host id (for `Q_QUOTAON` the
/// format), against the container's own disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The command.
    pub op: Op,
    /// User or group quota.
    pub ty: QuotaType,
    /// The id as the host's file system stores it.
    pub id: u32,
}

/// Decides `call` (named `named`) from `caller` for container `c`: the host call to make, or
/// the errno the caller gets with nothing done.
pub fn decide(call: &Call, named: Named<'_>, caller: &Caller, c: &Container) -> Result<Plan, i32> {
    let op = call.op().ok_or(libc::EPERM)?;
    // No project quotas on a container's disk: the answer of a kernel whose type is off.
    let ty = call.quota_type().ok_or(libc::ESRCH)?;
    if caller.userns != c.userns {
        // A nested user namespace's ids are not the container's: mapping them would be wrong.
        return Err(libc::EPERM);
    }
    let own = match (named, call.target) {
        (Named::Special(None), Target::Special(_)) => op == Op::Sync,
        (Named::Special(Some(name)), Target::Special(_)) => {
            c.disk_names.iter().any(|n| n.as_slice() == name)
        }
        (Named::FdOn(dev), Target::Fd(_)) => dev == c.disk_dev,
        _ => false,
    };
    if !own {
        return Err(libc::ENODEV);
    }
    if op.buffer_len() > 0 && call.addr == 0 {
        return Err(libc::EFAULT);
    }
    let map = match ty {
        QuotaType::User => &c.uids,
        QuotaType::Group => &c.gids,
    };
    let root = c.uids.to_inside(caller.euid) == Some(0);
    let id = if op.takes_id() {
        map.to_host(call.id).ok_or(libc::EINVAL)?
    } else if op == Op::QuotaOn {
        if call.id != QFMT_VFS_V1 {
            return Err(libc::EINVAL);
        }
        QFMT_VFS_V1
    } else {
        0
    };
    let owner = op == Op::GetQuota
        && match ty {
            QuotaType::User => caller.euid == id,
            QuotaType::Group => caller.groups.contains(&id),
        };
    let anyone = matches!(op, Op::Sync | Op::GetFmt | Op::GetInfo);
    if !(root || owner || anyone) {
        return Err(libc::EPERM);
    }
    Ok(Plan { op, ty, id })
}

/// The id inside of the host id a `Q_GETNEXTQUOTA` answered with; `None` (the caller gets
/// ENOENT, the end of the list) for one the container does not map.
pub fn next_id_inside(c: &Container, ty: QuotaType, host: u32) -> Option<u32> {
    match ty {
        QuotaType::User => c.uids.to_inside(host),
        QuotaType::Group => c.gids.to_inside(host),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::{Q_GETNEXTQUOTA, SYS_QUOTACTL, SYS_QUOTACTL_FD};
    use super::*;

    const BASE: u32 = 100_000;
    const DEV: u64 = (7 << 8) | 3;

    fn container() -> Container {
        Container {
            disk_names: vec![b"/dev/loop3".to_vec()],
            disk_dev: DEV,
            userns: 4026532900,
            uids: IdMap::parse("0 100000 65536").unwrap(),
            gids: IdMap::parse("0 100000 65536").unwrap(),
        }
    }

    fn root() -> Caller {
        Caller {
            userns: 4026532900,
            euid: BASE,
            groups: vec![BASE],
        }
    }

    fn quotactl(op: u32, ty: u32, id: u32) -> Call {
        Call::decode(
            SYS_QUOTACTL,
            [((op << 8) | ty) as u64, 0x1000, id as u64, 0x2000, 0, 0],
        )
        .unwrap()
    }

    const SET: u32 = libc::Q_SETQUOTA as u32;
    const GET: u32 = libc::Q_GETQUOTA as u32;
    const OWN: Named<'static> = Named::Special(Some(b"/dev/loop3"));

    #[test]
    fn container_root_sets_a_quota_on_its_own_disk_with_the_id_shifted() {
        let plan = decide(&quotactl(SET, 0, 1000), OWN, &root(), &container()).unwrap();
        assert_eq!(
            plan,
            Plan {
                op: Op::SetQuota,
                ty: QuotaType::User,
                id: BASE + 1000
            }
        );
        let group = decide(&quotactl(SET, 1, 50), OWN, &root(), &container()).unwrap();
        assert_eq!((group.ty, group.id), (QuotaType::Group, BASE + 50));
        let on = decide(
            &quotactl(libc::Q_QUOTAON as u32, 0, 4),
            OWN,
            &root(),
            &container(),
        );
        assert_eq!(on.unwrap().id, 4);
    }

    #[test]
    fn another_containers_device_or_any_other_name_is_refused() {
        let c = container();
        for name in [
            &b"/dev/loop4"[..],
            b"/dev/loop3/",
            b"/dev/../dev/loop3",
            b"/dev/vda",
            b"",
        ] {
            let got = decide(
                &quotactl(SET, 0, 1000),
                Named::Special(Some(name)),
                &root(),
                &c,
            );
            assert_eq!(got, Err(libc::ENODEV), "{}", String::from_utf8_lossy(name));
        }
        // No name: a sync (of its own disk, as the broker makes it) only.
        let none = Named::Special(None);
        assert_eq!(
            decide(&quotactl(SET, 0, 1000), none, &root(), &c),
            Err(libc::ENODEV)
        );
        let sync = decide(&quotactl(libc::Q_SYNC as u32, 0, 0), none, &root(), &c);
        assert_eq!(sync.unwrap().op, Op::Sync);
        // quotactl_fd on a file of another file system.
        let fd = Call::decode(
            SYS_QUOTACTL_FD,
            [5, ((SET << 8) as u64), 1000, 0x2000, 0, 0],
        )
        .unwrap();
        assert_eq!(
            decide(&fd, Named::FdOn(DEV + 1), &root(), &c),
            Err(libc::ENODEV)
        );
        assert_eq!(
            decide(&fd, Named::FdOn(DEV), &root(), &c).unwrap().id,
            BASE + 1000
        );
    }

    #[test]
    fn an_id_outside_the_containers_range_is_refused() {
        let c = container();
        for id in [65536, 65537, u32::MAX, u32::MAX - 1] {
            assert_eq!(
                decide(&quotactl(SET, 0, id), OWN, &root(), &c),
                Err(libc::EINVAL),
                "{id}"
            );
        }
        assert_eq!(next_id_inside(&c, QuotaType::User, BASE + 65536), None);
        assert_eq!(next_id_inside(&c, QuotaType::User, BASE + 7), Some(7));
    }

    #[test]
    fn users_inside_read_their_own_quota_only_and_set_none() {
        let c = container();
        let user = Caller {
            euid: BASE + 1000,
            groups: vec![BASE + 1000, BASE + 27],
            ..root()
        };
        assert!(decide(&quotactl(GET, 0, 1000), OWN, &user, &c).is_ok());
        assert!(decide(&quotactl(GET, 1, 27), OWN, &user, &c).is_ok());
        assert_eq!(
            decide(&quotactl(GET, 0, 1001), OWN, &user, &c),
            Err(libc::EPERM)
        );
        assert_eq!(
            decide(&quotactl(GET, 1, 28), OWN, &user, &c),
            Err(libc::EPERM)
        );
        assert_eq!(
            decide(&quotactl(SET, 0, 1000), OWN, &user, &c),
            Err(libc::EPERM)
        );
        let next = quotactl(Q_GETNEXTQUOTA, 0, 0);
        assert_eq!(decide(&next, OWN, &user, &c), Err(libc::EPERM));
        assert!(decide(&next, OWN, &root(), &c).is_ok());
        assert!(decide(&quotactl(libc::Q_GETINFO as u32, 0, 0), OWN, &user, &c).is_ok());
    }

    #[test]
    fn other_namespaces_commands_types_formats_and_null_buffers_are_refused() {
        let c = container();
        let nested = Caller {
            userns: 4026533000,
            ..root()
        };
        assert_eq!(
            decide(&quotactl(SET, 0, 1000), OWN, &nested, &c),
            Err(libc::EPERM)
        );
        // Q_XSETQLIM (XFS), project quota, another quota format, a null buffer.
        assert_eq!(
            decide(&quotactl(0x5804, 0, 1000), OWN, &root(), &c),
            Err(libc::EPERM)
        );
        assert_eq!(
            decide(&quotactl(SET, 2, 1000), OWN, &root(), &c),
            Err(libc::ESRCH)
        );
        let on = quotactl(libc::Q_QUOTAON as u32, 0, 2);
        assert_eq!(decide(&on, OWN, &root(), &c), Err(libc::EINVAL));
        let mut null = quotactl(SET, 0, 1000);
        null.addr = 0;
        assert_eq!(decide(&null, OWN, &root(), &c), Err(libc::EFAULT));
    }
}
