//! Real-kernel tests of limits: a throwaway cgroup per test on this host's v1 hierarchies and on
//! its cgroup2 mount, with real processes inside.

use std::path::Path;
use std::time::{Duration, Instant};

use fleet_protocol::{IoLimits, Resources};

use super::test_support::{TestCgroup, io_only};
use super::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn host_cpus() -> String {
    read(Path::new("/sys/fs/cgroup/cpuset/cpuset.effective_cpus"))
}

fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// A v1 test cgroup with `limits` applied.
fn v1_with(limits: Resources) -> Option<TestCgroup> {
    let cg = TestCgroup::v1()?;
    apply(&cg.dirs, &limits).unwrap();
    Some(cg)
}

/// The number under `key` in a keyed cgroup file (`pids.events`, `cpu.stat`), 0 without one.
fn keyed(path: &Path, key: &str) -> u64 {
    crate::limits::file::read_keyed(path, key)
        .unwrap()
        .unwrap_or(0)
}

fn some_limits() -> Resources {
    Resources {
        cpu_units: Some(2000),
        cpu_limit: Some(50),
        cpus: Some("0".into()),
        memory: Some(64 << 20),
        swap: Some(32 << 20),
        pids: Some(50),
        ..Resources::default()
    }
}

#[test]
fn v1_live_update_keeps_the_process_and_the_files_hold_the_new_values() {
    let Some(mut cg) = TestCgroup::v1() else {
        return;
    };
    let pid = cg.spawn("sleep", &["60"]);
    apply(&cg.dirs, &some_limits()).unwrap();
    let cpu = cg.dir(Controller::Cpu);
    let mem = cg.dir(Controller::Memory);
    assert_eq!(read(&cpu.join("cpu.shares")), "2048");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
    assert_eq!(read(&cg.dir(Controller::Cpuset).join("cpuset.cpus")), "0");
    assert_eq!(
        read(&mem.join("memory.limit_in_bytes")),
        (64u64 << 20).to_string()
    );
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            read(&mem.join("memory.memsw.limit_in_bytes")),
            (96u64 << 20).to_string()
        );
    }
    assert_eq!(read(&cg.dir(Controller::Pids).join("pids.max")), "50");

    // Grow memory past the old memory+swap limit: the memsw-first ordering is exercised.
    let bigger = Resources {
        cpu_units: Some(500),
        cpu_limit: Some(150),
        memory: Some(256 << 20),
        memory_high: Some(192 << 20),
        swap: Some(0),
        pids: Some(100),
        ..Resources::default()
    };
    apply(&cg.dirs, &bigger).unwrap();
    assert_eq!(
        read(&mem.join("memory.soft_limit_in_bytes")),
        (192u64 << 20).to_string()
    );
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "150000");
    assert_eq!(
        read(&mem.join("memory.limit_in_bytes")),
        (256u64 << 20).to_string()
    );
    assert_eq!(read(&cg.dir(Controller::Pids).join("pids.max")), "100");
    // Same process, still in the cgroup.
    assert!(
        read(&cpu.join("cgroup.procs"))
            .lines()
            .any(|l| l == pid.to_string())
    );
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    let live = read_live(&cg.dirs).unwrap();
    assert_eq!(live, effective(&bigger, CgroupVersion::V1, &host_cpus()));

    // Unset everything: limits removed, defaults back.
    apply(&cg.dirs, &Resources::default()).unwrap();
    assert_eq!(read(&cpu.join("cpu.shares")), "1024");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "-1");
    assert_eq!(
        read(&cg.dir(Controller::Pids).join("pids.max")),
        fleet_protocol::DEFAULT_PIDS.to_string()
    );
    assert_eq!(
        read_live(&cg.dirs).unwrap(),
        Resources {
            pids: Some(fleet_protocol::DEFAULT_PIDS),
            ..Resources::default()
        }
    );
}

#[test]
fn v1_bad_values_are_refused_with_the_range_and_change_nothing() {
    let Some(mut cg) = TestCgroup::v1() else {
        return;
    };
    apply(&cg.dirs, &some_limits()).unwrap();
    let before = read_live(&cg.dirs).unwrap();
    let bad = |r: Resources| {
        let err = apply(&cg.dirs, &r).unwrap_err().to_string();
        assert_eq!(read_live(&cg.dirs).unwrap(), before, "changed by {err}");
        err
    };
    let err = bad(Resources {
        cpu_units: Some(5),
        ..some_limits()
    });
    assert!(
        err.contains("cpu.units") && err.contains("8..=500000"),
        "{err}"
    );
    let err = bad(Resources {
        cpus: Some("0-63".into()),
        ..some_limits()
    });
    assert!(
        err.contains("cpu.cpus") && err.contains("not on this host"),
        "{err}"
    );
    let err = bad(Resources {
        pids: Some(0),
        ..some_limits()
    });
    assert!(err.contains("pids") && err.contains("at least 1"), "{err}");
    let err = bad(Resources {
        cpu_limit: Some(0),
        ..some_limits()
    });
    assert!(err.contains("cpu.limit") && err.contains("1%..="), "{err}");
    let err = bad(Resources {
        memory: Some(0),
        ..some_limits()
    });
    assert!(err.contains("memory") && err.contains("at least"), "{err}");

    // A memory limit under what the container holds now.
    // The shell keeps a 20 MB string in memory while it sleeps.
    cg.spawn(
        "sh",
        &[
            "-c",
            "x=$(head -c 20000000 /dev/zero | tr '\\0' a); sleep 60",
        ],
    );
    let mem = cg.dir(Controller::Memory);
    assert!(
        wait_until(Duration::from_secs(10), || {
            read(&mem.join("memory.usage_in_bytes"))
                .parse::<u64>()
                .unwrap()
                > 16 << 20
        }),
        "the memory holder never reached 16Mi"
    );
    let before = read_live(&cg.dirs).unwrap();
    let err = apply(
        &cg.dirs,
        &Resources {
            memory: Some(8 << 20),
            ..some_limits()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("memory") && err.contains("uses"), "{err}");
    assert_eq!(read_live(&cg.dirs).unwrap(), before);
}

#[test]
fn v1_memory_hog_is_stopped_by_the_limit_and_failcnt_rises() {
    let Some(mut cg) = v1_with(Resources {
        memory: Some(32 << 20),
        ..Resources::default()
    }) else {
        return;
    };
    cg.spawn("tail", &["/dev/zero"]);
    let status = cg
        .wait_exit(0, Duration::from_secs(30))
        .expect("hog still running");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "hog should be OOM-killed: {status}"
    );
    let mem = cg.dir(Controller::Memory);
    let failcnt: u64 = read(&mem.join("memory.failcnt")).parse().unwrap();
    assert!(failcnt > 0);
    let counters = crate::counters::read("hog", &cg.dirs, None).unwrap();
    let row = counters.get("memory").unwrap();
    assert!(
        row.failcnt.unwrap() > 0 && row.limit == Some(32 << 20),
        "{row:?}"
    );
    assert!(row.maxheld.unwrap() > 30 << 20, "{row:?}");
}

#[test]
fn v1_fork_loop_stops_at_pids_max_and_failcnt_rises() {
    let Some(mut cg) = v1_with(Resources {
        pids: Some(10),
        ..Resources::default()
    }) else {
        return;
    };
    cg.spawn(
        "sh",
        &[
            "-c",
            "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; wait",
        ],
    );
    let pids_dir = cg.dir(Controller::Pids);
    let hit = wait_until(Duration::from_secs(10), || {
        keyed(&pids_dir.join("pids.events"), "max") > 0
    });
    assert!(hit, "pids.events max never rose");
    let current: u64 = read(&pids_dir.join("pids.current")).parse().unwrap();
    assert!(current <= 10, "pids.current {current} above pids.max");
    let counters = crate::counters::read("forky", &cg.dirs, None).unwrap();
    let row = counters.get("pids").unwrap();
    assert!(row.failcnt.unwrap() > 0 && row.limit == Some(10), "{row:?}");
}

#[test]
fn v1_cpu_limit_shows_throttling_in_cpu_stat() {
    let Some(mut cg) = v1_with(Resources {
        cpu_limit: Some(20),
        ..Resources::default()
    }) else {
        return;
    };
    cg.spawn("sh", &["-c", "while :; do :; done"]);
    let stat = cg.dir(Controller::Cpu).join("cpu.stat");
    let throttled = wait_until(Duration::from_secs(5), || keyed(&stat, "nr_throttled") > 2);
    assert!(throttled, "cpu.stat: {}", read(&stat));
    let counters = crate::counters::read("busy", &cg.dirs, None).unwrap();
    let row = counters.get("cpu").unwrap();
    assert!(
        row.failcnt.unwrap() > 0 && row.limit == Some(20_000) && row.held > 0,
        "{row:?}"
    );
}

#[test]
fn io_weight_is_applied_or_refused_as_unsupported_per_host() {
    let Some(cg) = TestCgroup::v1() else { return };
    let io_dir = cg.dir(Controller::Io);
    let wanted = io_only(IoLimits {
        weight: Some(300),
        ..IoLimits::default()
    });
    let result = apply(&cg.dirs, &wanted);
    match io::weight_file(CgroupVersion::V1, &io_dir) {
        Some((path, _, _)) => {
            result.unwrap();
            assert_ne!(read(&path), "100");
        }
        None => {
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains("io.weight is not supported on this host"),
                "{err}"
            );
            let features = probe(&HostCgroups::detect().cgroup(""));
            assert!(!features.io_weight);
            assert!(features.notes.iter().any(|n| n.contains("io.weight")));
        }
    }
}

#[test]
fn io_priority_is_written_as_its_weight_or_left_out_per_host() {
    let Some(cg) = TestCgroup::v1() else { return };
    let io_dir = cg.dir(Controller::Io);
    let wanted = io_only(IoLimits {
        priority: Some(7),
        ..IoLimits::default()
    });
    // Accepted either way: a priority is a preference (the plan warns where nothing reads it).
    apply(&cg.dirs, &wanted).unwrap();
    let live = read_live(&cg.dirs).unwrap();
    if let Some((path, _, _)) = io::weight_file(CgroupVersion::V1, &io_dir) {
        assert_eq!(read(&path), "102", "128 on BFQ's scale");
    }
    assert_eq!(
        reported::in_spec_terms(live, &wanted, CgroupVersion::V1).io,
        wanted.io
    );
}

#[test]
fn v1_io_caps_go_to_the_containers_loop_device() {
    let Some(cg) = TestCgroup::v1() else { return };
    let Some(disk) = crate::disk::test_support::TestDisk::new(16 << 20, 256) else {
        return;
    };
    let dev = disk.image.device_number().unwrap().expect("attached");
    let wanted = io_only(IoLimits {
        read_bps: Some(10 << 20),
        write_iops: Some(100),
        ..IoLimits::default()
    });
    apply_with_device(&cg.dirs, &wanted, Some(dev)).unwrap();
    let io_dir = cg.dir(Controller::Io);
    assert_eq!(
        read(&io_dir.join("blkio.throttle.read_bps_device")),
        format!("{dev} {}", 10 << 20)
    );
    assert_eq!(
        read(&io_dir.join("blkio.throttle.write_iops_device")),
        format!("{dev} 100")
    );
    assert_eq!(
        read_live_with_device(&cg.dirs, Some(dev)).unwrap().io,
        wanted.io
    );
    apply_with_device(&cg.dirs, &Resources::default(), Some(dev)).unwrap();
    assert_eq!(read(&io_dir.join("blkio.throttle.read_bps_device")), "");
    // Caps without a device are refused, not dropped.
    let err = apply(&cg.dirs, &wanted).unwrap_err().to_string();
    assert!(
        err.contains("io.read_bps") && err.contains("disk device"),
        "{err}"
    );
}

#[test]
fn v2_on_the_real_unified_mount_reports_missing_controllers_and_counts_cpu() {
    let Some(mut cg) = TestCgroup::unified() else {
        return;
    };
    let dir = cg.dirs.controller_dir(Controller::Cpuacct).unwrap();
    let listed = read(&dir.join("cgroup.controllers"));
    if !listed.split_whitespace().any(|c| c == "memory") {
        let err = apply(
            &cg.dirs,
            &Resources {
                memory: Some(64 << 20),
                ..Resources::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("memory is not supported on this host")
                && err.contains("memory controller")
                && err.contains("cgroup v2"),
            "{err}"
        );
        let features = probe(&cg.dirs);
        assert!(!features.memory && features.notes.iter().any(|n| n.starts_with("memory")));
    }
    // Removing limits that cannot exist is not an error.
    apply(&cg.dirs, &Resources::default()).unwrap();
    cg.spawn("sh", &["-c", "while :; do :; done"]);
    let counted = wait_until(Duration::from_secs(5), || {
        let c = crate::counters::read("v2", &cg.dirs, None).unwrap();
        c.get("cpu").unwrap().held > 50_000
    });
    assert!(
        counted,
        "cpu.stat usage_usec did not grow on the unified mount"
    );
}
