//! bpf(2) for the cgroup v2 device guard: load a `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach
//! it to a cgroup with `BPF_F_ALLOW_MULTI` (as runc and crun do: the programs of a group and of
//! its ancestors all run, and an access passes only when every one allows it), list the programs
//! attached, and detach one. The program's instructions come from `cgroups::device_program`;
//! nothing here knows what they say.
//!
//! `union bpf_attr` is passed as the few leading fields each command reads, zero-filled to the
//! struct's size here; the kernel accepts a shorter attr than its own (it treats the rest as
//! zero).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr` for BPF_PROG_LOAD (the fields up to `expected_attach_type`).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY.
#[repr(C)]
#[derive(Default)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, #[repr(C)] prefix of `union bpf_attr` of the size passed; the
    // kernel reads (and for QUERY writes) only within that size, and any pointer inside it
    // (instructions, license, log, id array) points at memory the caller keeps alive for the
    // call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// Loads the device program whose instructions are `insns` (`struct bpf_insn`s, 8 bytes each),
/// named `name` (up to 15 bytes, shown by bpftool). A refusal carries the verifier's log.
pub fn load_device_program(insns: &[u8], name: &str) -> io::Result<OwnedFd> {
    const LICENSE: &CStr = c"GPL";
    let mut log = vec![0u8; 16 * 1024];
    let mut prog_name = [0u8; 16];
    for (to, from) in prog_name.iter_mut().zip(name.bytes().take(15)) {
        *to = from;
    }
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoad::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: BPF_PROG_LOAD returned a new descriptor that nobody else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let verifier = String::from_utf8_lossy(&log[..end]);
            Err(io::Error::new(
                e.kind(),
                format!("{e}; verifier: {}", verifier.trim()),
            ))
        }
    }
}

/// Attaches `program` to the cgroup directory `cgroup` as a device program, beside any others
/// (`BPF_F_ALLOW_MULTI`).
pub fn attach_device_program(cgroup: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..ProgAttach::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// The ids of the device programs attached to `cgroup` itself (not its ancestors').
pub fn attached_device_programs(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..ProgQuery::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Detaches the device program with id `id` from `cgroup`.
pub fn detach_device_program(cgroup: BorrowedFd<'_>, id: u32) -> io::Result<()> {
    let mut by_id = GetFdById {
        prog_id: id,
        ..GetFdById::default()
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut by_id)?;
    // SAFETY: BPF_PROG_GET_FD_BY_ID returned a new descriptor that nobody else owns.
    let program = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_fd().as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..ProgAttach::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}
