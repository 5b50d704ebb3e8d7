//! Limits against temp dirs laid out like cgroup directories: the v2 code path (which this
//! host's unified mount cannot exercise, having no controllers) and the rollback of a batch that
//! fails midway. Files are created up front, as the kernel would offer them; writes never create.

use std::path::Path;

use fleet_protocol::{IoLimits, Resources};

use super::test_support::io_only;
use super::*;

fn seed(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .to_string()
}

/// A v2 parent with a child cgroup `c` that has every controller enabled.
fn v2_tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    seed(root.path(), &[("cpuset.cpus.effective", "0-3")]);
    let dir = root.path().join("c");
    std::fs::create_dir(&dir).unwrap();
    seed(
        &dir,
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids"),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            (
                "cpu.stat",
                "usage_usec 1500\nnr_periods 10\nnr_throttled 4\n",
            ),
            ("cpuset.cpus", ""),
            ("memory.max", "max"),
            ("memory.high", "max"),
            ("memory.swap.max", "max"),
            ("memory.current", "1048576"),
            ("pids.max", "max"),
            ("pids.current", "3"),
            ("io.weight", "default 100"),
            ("io.max", ""),
        ],
    );
    (root, dir)
}

#[test]
fn v2_files_get_v2_values_and_read_back_as_effective() {
    let (_root, dir) = v2_tree();
    let cg = Dirs::v2(&dir);
    let dev = DevNum { major: 7, minor: 3 };
    let wanted = Resources {
        cpu_units: Some(2000),
        cpu_limit: Some(150),
        cpus: Some("1,2,3".into()),
        memory: Some(512 << 20),
        memory_high: Some(384 << 20),
        swap: Some(128 << 20),
        pids: Some(64),
        io: IoLimits {
            weight: Some(300),
            read_bps: Some(1 << 20),
            write_iops: Some(50),
            ..IoLimits::default()
        },
        ..Resources::default()
    };
    apply_with_device(&cg, &wanted, Some(dev)).unwrap();
    assert_eq!(read(&dir, "cpu.weight"), "200");
    assert_eq!(read(&dir, "cpu.max"), "150000 100000");
    assert_eq!(read(&dir, "cpuset.cpus"), "1-3");
    assert_eq!(read(&dir, "memory.max"), (512u64 << 20).to_string());
    assert_eq!(read(&dir, "memory.high"), (384u64 << 20).to_string());
    assert_eq!(read(&dir, "memory.swap.max"), (128u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "64");
    assert_eq!(read(&dir, "io.weight"), "default 300");
    assert_eq!(
        read(&dir, "io.max"),
        "7:3 rbps=1048576 wbps=max riops=max wiops=50"
    );
    let live = read_live_with_device(&cg, Some(dev)).unwrap();
    assert_eq!(live, effective(&wanted, CgroupVersion::V2, "0-3"));

    apply_with_device(&cg, &Resources::default(), Some(dev)).unwrap();
    assert_eq!(read(&dir, "cpu.weight"), "100");
    assert_eq!(read(&dir, "cpu.max"), "max 100000");
    assert_eq!(read(&dir, "cpuset.cpus"), "");
    assert_eq!(read(&dir, "memory.max"), "max");
    assert_eq!(read(&dir, "memory.high"), "max");
    assert_eq!(
        read(&dir, "io.max"),
        "7:3 rbps=max wbps=max riops=max wiops=max"
    );
    assert_eq!(
        read(&dir, "pids.max"),
        fleet_protocol::DEFAULT_PIDS.to_string()
    );
    assert_eq!(
        read_live(&cg).unwrap(),
        Resources {
            pids: Some(fleet_protocol::DEFAULT_PIDS),
            ..Resources::default()
        }
    );
}

#[test]
fn v2_validation_uses_v2_files_for_usage_and_host_cpus() {
    let (_root, dir) = v2_tree();
    let cg = Dirs::v2(&dir);
    let err = apply(
        &cg,
        &Resources {
            cpus: Some("2-5".into()),
            ..Resources::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("CPUs 4-5 are not on this host; valid CPUs are 0-3"),
        "{err}"
    );
    seed(&dir, &[("memory.current", "104857600")]);
    let err = apply(
        &cg,
        &Resources {
            memory: Some(50 << 20),
            ..Resources::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("uses 100Mi now"), "{err}");
    let err = apply(
        &cg,
        &Resources {
            pids: Some(2),
            ..Resources::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("runs 3 tasks now"), "{err}");
    assert_eq!(read(&dir, "memory.max"), "max");
}

#[test]
fn v2_cgroup_without_a_controller_refuses_its_limits() {
    let (_root, dir) = v2_tree();
    seed(&dir, &[("cgroup.controllers", "cpu")]);
    let cg = Dirs::v2(&dir);
    let err = apply(
        &cg,
        &Resources {
            pids: Some(5),
            ..Resources::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, LimitError::Unsupported { field: "pids", .. }),
        "{err}"
    );
    let features = probe(&cg);
    assert!(features.cpu && !features.pids && !features.memory);
}

#[test]
fn a_write_failing_midway_puts_back_what_was_written() {
    let (_root, dir) = v2_tree();
    let cg = Dirs::v2(&dir);
    let mut plan = plan(
        &cg,
        &Resources {
            cpu_units: Some(3000),
            memory: Some(8 << 20),
            ..Resources::default()
        },
        None,
    )
    .unwrap();
    // A control file the kernel then refuses (a directory in its place): the steps before it
    // must be undone.
    let broken = dir.join("broken.max");
    std::fs::create_dir(&broken).unwrap();
    plan.push(broken, "1", None);
    let err = plan.execute().unwrap_err().to_string();
    assert!(err.contains("broken.max"), "{err}");
    assert_eq!(read(&dir, "cpu.weight"), "100");
    assert_eq!(read(&dir, "memory.max"), "max");
    assert_eq!(read(&dir, "pids.max"), "max");
}

#[test]
fn effective_applies_kernel_rounding_and_defaults() {
    let spec = Resources {
        cpu_units: Some(1000),
        cpus: Some("0-3".into()),
        memory: Some((64 << 20) + 100),
        io: IoLimits {
            weight: Some(100),
            ..IoLimits::default()
        },
        disk_space: Some(1 << 30),
        ..Resources::default()
    };
    let eff = effective(&spec, CgroupVersion::V2, "0-3");
    assert_eq!(eff.cpu_units, None);
    assert_eq!(eff.cpus, None);
    assert_eq!(eff.memory, Some(64 << 20));
    assert_eq!(eff.io.weight, None);
    assert_eq!(eff.disk_space, Some(1 << 30));
    assert_eq!(eff.disk_inodes, Some(65536), "mke2fs's default ratio");
}

#[test]
fn an_openvz_priority_is_written_as_its_weight_and_read_back_as_the_priority() {
    let (_root, dir) = v2_tree();
    let cg = Dirs::v2(&dir);
    let wanted = io_only(IoLimits {
        priority: Some(7),
        ..IoLimits::default()
    });
    apply(&cg, &wanted).unwrap();
    // 640 / 5, on io.weight's own scale.
    assert_eq!(read(&dir, "io.weight"), "default 128");
    let live = read_live(&cg).unwrap();
    assert_eq!(
        live.io.weight,
        Some(io::weight_round_trip(128)),
        "BFQ's precision"
    );
    assert_eq!(
        reported::in_spec_terms(live, &wanted, CgroupVersion::V2).io,
        wanted.io,
        "reported as the spec wrote it"
    );
    // v1 with BFQ: the same weight on BFQ's 1..=1000 scale.
    let root = tempfile::tempdir().unwrap();
    let blkio = root.path().join("blkio/c");
    std::fs::create_dir_all(&blkio).unwrap();
    seed(&blkio, &[("blkio.bfq.weight", "100")]);
    let cg = Dirs::v1(root.path(), "c");
    apply(&cg, &wanted).unwrap();
    assert_eq!(read(&blkio, "blkio.bfq.weight"), "102");
    // Without a weight file the priority is not written and not refused (the plan warns);
    // a weight is refused as before.
    std::fs::remove_file(blkio.join("blkio.bfq.weight")).unwrap();
    apply(&cg, &wanted).unwrap();
    let weight = io_only(IoLimits {
        weight: Some(128),
        ..IoLimits::default()
    });
    let err = apply(&cg, &weight).unwrap_err().to_string();
    assert!(err.contains("io.weight is not supported"), "{err}");
    let bad = io_only(IoLimits {
        priority: Some(8),
        ..IoLimits::default()
    });
    let err = apply(&cg, &bad).unwrap_err().to_string();
    assert!(
        err.contains("io.priority") && err.contains("0..=7"),
        "{err}"
    );
}
