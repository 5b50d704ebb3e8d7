//! What a container asked for: a `quotactl` or `quotactl_fd` notification's arguments decoded
//! into the command, quota type, id and argument addresses, and the allow-list of commands the
//! broker will make on the container's behalf.

/// x86_64 system call numbers (the filter is x86_64's only).
pub const SYS_QUOTACTL: i32 = 179;
/// `quotactl_fd(2)`, Linux 5.14.
pub const SYS_QUOTACTL_FD: i32 = 443;

/// `Q_GETNEXTQUOTA` (Linux 4.6; not in libc).
pub const Q_GETNEXTQUOTA: u32 = 0x80_0009;
/// The format of ext4's hidden quota files, the only one `Q_QUOTAON` may name.
pub const QFMT_VFS_V1: u32 = 4;

/// The commands the broker makes for a container, on its own disk only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Writes the quota state to disk (`Q_SYNC`).
    Sync,
    /// The format in use (`Q_GETFMT`), which the tools ask first.
    GetFmt,
    /// Grace times and flags (`Q_GETINFO`).
    GetInfo,
    /// Sets them (`Q_SETINFO`).
    SetInfo,
    /// One id's limits and usage (`Q_GETQUOTA`).
    GetQuota,
    /// Sets one id's limits (`Q_SETQUOTA`).
    SetQuota,
    /// The next id at or after one that has a quota (`Q_GETNEXTQUOTA`, for repquota).
    GetNextQuota,
    /// Turns enforcement on (`Q_QUOTAON`), with the hidden files' format only.
    QuotaOn,
    /// Turns enforcement off (`Q_QUOTAOFF`).
    QuotaOff,
}

impl Op {
    /// Every allow-listed command.
    pub const ALL: [Op; 9] = [
        Op::Sync,
        Op::GetFmt,
        Op::GetInfo,
        Op::SetInfo,
        Op::GetQuota,
        Op::SetQuota,
        Op::GetNextQuota,
        Op::QuotaOn,
        Op::QuotaOff,
    ];

    /// The command's number (the `Q_*` value before the type is or'ed in).
    pub fn number(self) -> u32 {
        match self {
            Op::Sync => libc::Q_SYNC as u32,
            Op::GetFmt => libc::Q_GETFMT as u32,
            Op::GetInfo => libc::Q_GETINFO as u32,
            Op::SetInfo => libc::Q_SETINFO as u32,
            Op::GetQuota => libc::Q_GETQUOTA as u32,
            Op::SetQuota => libc::Q_SETQUOTA as u32,
            Op::GetNextQuota => Q_GETNEXTQUOTA,
            Op::QuotaOn => libc::Q_QUOTAON as u32,
            Op::QuotaOff => libc::Q_QUOTAOFF as u32,
        }
    }

    /// The allow-listed command of number `n`; any other (the XFS `Q_X*` family, `Q_GETSTATE`,
    /// commands a later kernel adds) is `None`.
    pub fn from_number(n: u32) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.number() == n)
    }

    /// Whether the kernel would ask its caller for CAP_SYS_ADMIN (everything but the queries
    /// anyone may make and a query of one's own quota): the broker asks for container root.
    pub fn administers(self) -> bool {
        !matches!(self, Op::Sync | Op::GetFmt | Op::GetInfo | Op::GetQuota)
    }

    /// Whether the command names one id (whose host id the broker passes instead).
    pub fn takes_id(self) -> bool {
        matches!(self, Op::GetQuota | Op::SetQuota | Op::GetNextQuota)
    }

    /// Bytes the command reads from (`SetQuota`, `SetInfo`, `GetNextQuota`'s id is in the
    /// argument) or writes to the caller's `addr`: `struct if_dqblk`, `if_nextdqblk` (72 bytes
    /// each), `if_dqinfo` (24), the format (4); none for the others.
    pub fn buffer_len(self) -> usize {
        match self {
            Op::GetQuota | Op::SetQuota | Op::GetNextQuota => 72,
            Op::GetInfo | Op::SetInfo => 24,
            Op::GetFmt => 4,
            Op::Sync | Op::QuotaOn | Op::QuotaOff => 0,
        }
    }

    /// Whether the caller's buffer is input (read before the call) rather than output.
    pub fn reads_buffer(self) -> bool {
        matches!(self, Op::SetQuota | Op::SetInfo)
    }
}

/// Which quota a command is about (the low byte of `cmd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaType {
    /// Per user (`USRQUOTA`), ids through the uid map.
    User,
    /// Per group (`GRPQUOTA`), ids through the gid map.
    Group,
}

/// How the call named the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `quotactl`: the address of the special device's name in the caller's memory (0: none).
    Special(u64),
    /// `quotactl_fd`: a descriptor of the caller's for a file on the file system.
    Fd(i32),
}

/// One `quotactl`/`quotactl_fd` call, its arguments as the caller passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The file system it names.
    pub target: Target,
    /// `cmd` whole (`QCMD(op, type)`).
    pub cmd: u32,
    /// The id (an id inside the container; for `Q_QUOTAON` the format).
    pub id: u32,
    /// The caller's buffer.
    pub addr: u64,
}

impl Call {
    /// The call behind a notification of system call `nr` with `args`; `None` for any other
    /// call (the filter sends only these two).
    pub fn decode(nr: i32, args: [u64; 6]) -> Option<Call> {
        // The kernel reads these arguments as 32-bit ints; their high halves are ignored.
        let low = |i: usize| args[i] as u32;
        match nr {
            SYS_QUOTACTL => Some(Call {
                target: Target::Special(args[1]),
                cmd: low(0),
                id: low(2),
                addr: args[3],
            }),
            SYS_QUOTACTL_FD => Some(Call {
                target: Target::Fd(low(0) as i32),
                cmd: low(1),
                id: low(2),
                addr: args[3],
            }),
            _ => None,
        }
    }

    /// The command, when it is allow-listed (`cmd >> 8`, as `QCMD` puts it).
    pub fn op(&self) -> Option<Op> {
        Op::from_number(self.cmd >> 8)
    }

    /// The quota type; `None` for project quotas (never on a container's disk) or a type the
    /// kernel does not know.
    pub fn quota_type(&self) -> Option<QuotaType> {
        match self.cmd & 0xff {
            0 => Some(QuotaType::User),
            1 => Some(QuotaType::Group),
            _ => None,
        }
    }

    /// `QCMD(op, type)` for the host's call.
    pub fn host_cmd(op: Op, ty: QuotaType) -> u32 {
        (op.number() << 8)
            | match ty {
                QuotaType::User => 0,
                QuotaType::Group => 1,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn qcmd(op: u32, ty: u32) -> u64 {
        ((op << 8) | ty) as u64
    }

    #[test]
    fn the_allow_list_is_the_quota_commands_of_the_tools_and_nothing_else() {
        let set = qcmd(libc::Q_SETQUOTA as u32, 0);
        let call = Call::decode(SYS_QUOTACTL, [set, 0x1000, 1000, 0x2000, 0, 0]).unwrap();
        assert_eq!(call.op(), Some(Op::SetQuota));
        assert_eq!(call.quota_type(), Some(QuotaType::User));
        assert_eq!(
            (call.target, call.id, call.addr),
            (Target::Special(0x1000), 1000, 0x2000)
        );
        for (n, op) in [
            (0x80_0001, Op::Sync),
            (0x80_0002, Op::QuotaOn),
            (0x80_0003, Op::QuotaOff),
            (0x80_0004, Op::GetFmt),
            (0x80_0005, Op::GetInfo),
            (0x80_0006, Op::SetInfo),
            (0x80_0007, Op::GetQuota),
            (0x80_0008, Op::SetQuota),
            (0x80_0009, Op::GetNextQuota),
        ] {
            assert_eq!(Op::from_number(n), Some(op));
            assert_eq!(op.number(), n);
        }
        // XFS's Q_XQUOTAON ('X' << 8 | 1), Q_XSETQLIM, Q_XGETQSTAT; an unknown command; the
        // old v1 commands (0x0100..).
        for n in [0x5801, 0x5804, 0x5805, 0x80_000a, 0x0100, 0x0800, 0] {
            assert_eq!(Op::from_number(n), None, "{n:#x}");
        }
        let prj = Call::decode(SYS_QUOTACTL, [qcmd(0x80_0007, 2), 0, 0, 0, 0, 0]).unwrap();
        assert!(prj.quota_type().is_none());
        assert_eq!(Call::decode(libc::SYS_mount as i32, [0; 6]), None);
    }

    #[test]
    fn quotactl_fd_puts_the_descriptor_first_and_high_halves_are_ignored() {
        let get = qcmd(libc::Q_GETQUOTA as u32, 1) | 0xffff_ffff_0000_0000;
        let call = Call::decode(SYS_QUOTACTL_FD, [7, get, 50 | 1 << 32, 0x3000, 0, 0]).unwrap();
        assert_eq!(call.target, Target::Fd(7));
        assert_eq!(call.op(), Some(Op::GetQuota));
        assert_eq!(call.quota_type(), Some(QuotaType::Group));
        assert_eq!(call.id, 50);
        assert_eq!(Call::host_cmd(Op::GetQuota, QuotaType::Group), get as u32);
    }

    #[test]
    fn only_the_owner_queries_need_no_root() {
        let admin: Vec<Op> = Op::ALL.into_iter().filter(|op| op.administers()).collect();
        assert_eq!(
            admin,
            [
                Op::SetInfo,
                Op::SetQuota,
                Op::GetNextQuota,
                Op::QuotaOn,
                Op::QuotaOff
            ]
        );
    }
}
