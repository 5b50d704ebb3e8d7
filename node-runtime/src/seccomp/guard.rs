//! The BPF programs written by hand. The guard, because seccompiler matches system call numbers
//! only exactly: a deny list by number must also refuse the x32 ABI (numbers with bit 30 set, which
//! reach the same kernel functions under the x86_64 audit arch) or every denied call could be
//! made again through its x32 number. Calls of any other ABI (i386 `int 0x80`) kill the process,
//! as seccompiler's own programs do. And the quota program of `disk.user_quota`, because
//! seccompiler has no SECCOMP_RET_USER_NOTIF action.

/// BPF_LD | BPF_W | BPF_ABS (the first two are 0).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// x86_64 calls pass, x32 calls fail with ENOSYS, other ABIs kill the process.
pub fn x32_and_foreign_abis() -> Vec<libc::sock_filter> {
    vec![
        stmt(BPF_LD_W_ABS, ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, NR),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(
            BPF_RET_K,
            libc::SECCOMP_RET_ERRNO | (libc::ENOSYS as u32 & libc::SECCOMP_RET_DATA),
        ),
        stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// `quotactl` and `quotactl_fd` wait for the listener (the quotactl broker); everything else
/// passes to the other programs. The kernel takes the strictest answer of all programs, and
/// USER_NOTIF is below ERRNO, so the deny program must not list these two.
pub fn quota_calls_to_listener() -> Vec<libc::sock_filter> {
    const QUOTACTL: u32 = crate::quotactl::call::SYS_QUOTACTL as u32;
    const QUOTACTL_FD: u32 = crate::quotactl::call::SYS_QUOTACTL_FD as u32;
    vec![
        stmt(BPF_LD_W_ABS, NR),
        jump(BPF_JMP_JEQ_K, QUOTACTL, 2, 0),
        jump(BPF_JMP_JEQ_K, QUOTACTL_FD, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW),
        stmt(BPF_RET_K, libc::SECCOMP_RET_USER_NOTIF),
    ]
}
