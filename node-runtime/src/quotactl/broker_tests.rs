//! The broker against the real kernel: a thread installs the container filter of a
//! `disk.user_quota` container (the default deny list, quota calls to a listener), hands the
//! listener over a unix socket, and makes quota calls; the broker answers them on a real ext4 on a loop
//! device. Without the broker the same names resolve to nothing (ENOENT); with it, the own
//! disk's calls reach the kernel (Q_SYNC succeeds, Q_GETQUOTA gets the kernel's "quota off"),
//! and another container's device, an id outside the range and an XFS command are refused
//! before any host call.

use std::ffi::CString;
use std::os::fd::AsFd;
use std::sync::mpsc;

use fleet_protocol::SecuritySpec;

use super::*;
use crate::disk::test_support::TestDisk;
use crate::quotactl::{Container, IdMap};
use crate::seccomp::Filter;

const OWN: &str = "/dev/fleet-test-disk";

fn qcmd(op: i32, ty: u32) -> u32 {
    ((op as u32) << 8) | ty
}

/// One call of the "container" thread: what it is, cmd, device name, id, what it must get.
type Case = (&'static str, u32, &'static str, u32, Result<i64, i32>);

/// The calls the "container" thread makes, and what each must get.
fn calls() -> Vec<Case> {
    vec![
        ("sync of the own disk", qcmd(libc::Q_SYNC, 0), OWN, 0, Ok(0)),
        // The disk has no quota on: the kernel's own answer, so the call reached it.
        (
            "get of the own disk",
            qcmd(libc::Q_GETQUOTA, 0),
            OWN,
            0,
            Err(libc::ESRCH),
        ),
        (
            "another container's device",
            qcmd(libc::Q_SETQUOTA, 0),
            "/dev/loop-of-another",
            0,
            Err(libc::ENODEV),
        ),
        (
            "an id outside the range",
            qcmd(libc::Q_SETQUOTA, 0),
            OWN,
            5000,
            Err(libc::EINVAL),
        ),
        ("XFS's Q_XGETQSTAT", 0x5805 << 8, OWN, 0, Err(libc::EPERM)),
    ]
}

#[test]
fn the_broker_answers_a_filtered_threads_quota_calls_on_its_own_disk_only() {
    let Some(disk) = TestDisk::new(32 << 20, 1024) else {
        return;
    };
    let device = disk.image.device().unwrap().expect("attached");
    let rdev = nix::sys::stat::stat(&device).unwrap().st_rdev;
    let broker_for = |listener| Broker {
        listener,
        container: Container {
            disk_names: vec![OWN.as_bytes().to_vec()],
            disk_dev: rdev,
            userns: crate::quotactl::found::userns_of(std::path::Path::new("/proc/self/ns/user"))
                .unwrap(),
            // Root and the first thousand ids only, so 5000 is outside.
            uids: IdMap::parse("0 0 1000").unwrap(),
            gids: IdMap::parse("0 0 1000").unwrap(),
        },
        host_device: CString::new(device.as_os_str().as_encoded_bytes()).unwrap(),
    };
    // Without the filter the name is a path that does not exist.
    let name = CString::new(OWN).unwrap();
    let bare = crate::sys::seccomp_notify::quotactl(qcmd(libc::Q_SYNC, 0), &name, 0, &mut []);
    assert_eq!(bare.unwrap_err().raw_os_error(), Some(libc::ENOENT));

    let filter = Filter::build_for(&SecuritySpec::default(), true).unwrap();
    // The listener crosses a unix socket, as it leaves a starting container.
    let (inside, host) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let (report, results) = mpsc::channel();
    let caller = std::thread::spawn(move || {
        let listener = filter.install_listening().unwrap().expect("a listener");
        crate::quotactl::handover::send(inside.as_fd(), listener).unwrap();
        for (what, cmd, special, id, _) in calls() {
            let special = CString::new(special).unwrap();
            let mut buf = [0u8; 72];
            let got = crate::sys::seccomp_notify::quotactl(cmd, &special, id, &mut buf)
                .map_err(|e| e.raw_os_error().unwrap());
            report.send((what, got)).unwrap();
        }
    });
    let broker = broker_for(crate::quotactl::handover::recv(host.as_fd()).unwrap());
    for (what, _, _, _, want) in calls() {
        let n = crate::sys::seccomp_notify::recv(broker.listener.as_fd()).unwrap();
        broker.answer(&n);
        let (said, got) = results.recv().unwrap();
        assert_eq!((said, got), (what, want));
    }
    caller.join().unwrap();
    // The filter's only thread is gone: the listener hangs up and the loop ends.
    broker.serve().unwrap();
}
