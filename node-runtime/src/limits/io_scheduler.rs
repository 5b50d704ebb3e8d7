//! Which cgroup file, if any, the host's I/O scheduler reads a container's I/O weight from.
//!
//! A weight file existing proves nothing: on cgroup v2 `io.weight` is there whenever the kernel
//! has iocost built in, and `io.bfq.weight` whenever BFQ is loaded, whatever scheduler the disk
//! runs. What honours a weight is the disk's own scheduler: BFQ reads `io.bfq.weight`, iocost
//! (switched on per disk in the root's `io.cost.qos`) reads `io.weight`, and mq-deadline, kyber
//! or none read neither. Containers' I/O ends on the disk under the node's root (their loop
//! devices are backed by files there, and the loop driver charges its writes to the container's
//! cgroup), so that disk is the one asked. The hello reports the answer and the plan warns where
//! no scheduler honours a weight (docs/limits.md, "I/O weight").

use std::path::{Path, PathBuf};

use fleet_protocol::WeightFile;

use super::DevNum;

/// How the disk under the node's root treats I/O weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightHonour {
    /// BFQ: reads `io.bfq.weight` (v2) / `blkio.bfq.weight` (v1).
    Bfq,
    /// iocost is enabled for the disk: reads `io.weight` (v2 only).
    IoCost,
    /// Nothing reads a weight; why (the scheduler in use, or that there is no block device).
    Ignored(String),
}

impl WeightHonour {
    /// The cgroup v2 file weights must go to ([`WeightFile::None`] when ignored).
    pub fn v2_file(&self) -> WeightFile {
        match self {
            WeightHonour::Bfq => WeightFile::IoBfqWeight,
            WeightHonour::IoCost => WeightFile::IoWeight,
            WeightHonour::Ignored(_) => WeightFile::None,
        }
    }
}

/// The whole disk holding the file system at `path` (a partition's parent disk), as
/// `major:minor`, or `None` when that file system has no block device (tmpfs, overlayfs).
pub fn disk_of(sys: &Path, path: &Path) -> Option<(DevNum, PathBuf)> {
    use std::os::unix::fs::MetadataExt as _;
    let dev = std::fs::metadata(path).ok()?.dev();
    let num = DevNum {
        major: nix::sys::stat::major(dev) as u32,
        minor: nix::sys::stat::minor(dev) as u32,
    };
    let mut dir = std::fs::canonicalize(sys.join(format!("dev/block/{num}"))).ok()?;
    if dir.join("partition").exists() {
        dir = dir.parent()?.to_path_buf();
    }
    let whole = std::fs::read_to_string(dir.join("dev")).ok()?;
    let (major, minor) = whole.trim().split_once(':')?;
    Some((
        DevNum {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        },
        dir,
    ))
}

/// The scheduler in use from a `queue/scheduler` text (`mq-deadline kyber [bfq] none`).
pub fn active_scheduler(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|s| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
}

/// Whether the root's `io.cost.qos` text switches iocost on for `dev`.
pub fn iocost_enabled(qos: &str, dev: DevNum) -> bool {
    let key = dev.to_string();
    qos.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some(key.as_str()) && words.any(|w| w == "enable=1")
    })
}

/// How the disk under `root` (the node's store) treats weights; `sys` is `/sys` and
/// `cgroup_root` the cgroup2 mount (for `io.cost.qos`).
pub fn detect(sys: &Path, cgroup_root: &Path, root: &Path) -> WeightHonour {
    let mut probe = root.to_path_buf();
    while !probe.exists() && probe.pop() {}
    let Some((dev, dir)) = disk_of(sys, &probe) else {
        return WeightHonour::Ignored(format!("{} is on no block device", probe.display()));
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dev.to_string());
    let scheduler = std::fs::read_to_string(dir.join("queue/scheduler")).unwrap_or_default();
    let active = active_scheduler(&scheduler).unwrap_or("none").to_owned();
    if active == "bfq" {
        return WeightHonour::Bfq;
    }
    let qos = std::fs::read_to_string(cgroup_root.join("io.cost.qos")).unwrap_or_default();
    if iocost_enabled(&qos, dev) {
        return WeightHonour::IoCost;
    }
    WeightHonour::Ignored(format!(
        "the I/O scheduler of {name} ({dev}) is {active}, which reads no weights; \
         `modprobe bfq && echo bfq > /sys/block/{name}/queue/scheduler`, or iocost in \
         io.cost.qos, makes weights count"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracketed_scheduler_is_the_active_one() {
        assert_eq!(
            active_scheduler("mq-deadline kyber [bfq] none\n"),
            Some("bfq")
        );
        assert_eq!(active_scheduler("[none] mq-deadline"), Some("none"));
        assert_eq!(active_scheduler(""), None);
    }

    #[test]
    fn iocost_counts_only_when_enabled_for_that_disk() {
        let dev = DevNum {
            major: 254,
            minor: 0,
        };
        let on = "254:0 enable=1 ctrl=auto rpct=0.00 rlat=250000 wpct=0.00 wlat=250000\n";
        assert!(iocost_enabled(on, dev));
        assert!(!iocost_enabled(&on.replace("enable=1", "enable=0"), dev));
        assert!(!iocost_enabled("8:0 enable=1 ctrl=auto\n", dev));
        assert!(!iocost_enabled("", dev));
    }

    #[test]
    fn a_path_on_no_block_device_is_reported_as_ignored() {
        // /proc is on no block device.
        match detect(
            Path::new("/sys"),
            Path::new("/nonexistent"),
            Path::new("/proc"),
        ) {
            WeightHonour::Ignored(why) => assert!(why.contains("no block device"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
