//! `fleet-node set NAME --memory 512Mi --cpu-units 2000 --cpu-limit 50% --pids 200
//! --disk-space 2Gi ...`: change a container's limits, live (same init), in the spirit of
//! `vzctl set`. Flags mirror the spec's resources as text ([`SetArgs`]); [`resolve`] turns them
//! into the new [`Resources`] (`none` removes a limit), and the update verb does the rest:
//! validation, live writes, and "needs restart" for what cannot change live unless `--restart`.

use std::io::Write;

use clap::Args;
use fleet_protocol::devices::{DEFAULT_ACCESS, DeviceGrant};
use fleet_protocol::units::{parse_percent, parse_size};
use fleet_protocol::{ContainerState, DesiredState, Resources};

use crate::container::Runtime;
use crate::error::{Error, Result};

/// Flags of `fleet-node set`. Each takes a value or `none` (remove the limit); an absent flag
/// keeps the current value.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  fleet-node set web1 --memory 512Mi --cpu-units 2000 --cpu-limit 50%\n  \
                        fleet-node set web1 --pids none          # remove the limit\n  \
                        fleet-node set web1 --device /dev/fuse:rw --device /dev/kvm:none\n\n\
                        A change that cannot be made live (shrinking the disk, new inodes) is refused with \"needs restart\";\n\
                        the init PID never changes on a live update."
)]
pub struct SetArgs {
    /// Container name.
    pub name: String,
    /// Memory limit (`512Mi`, `2G`).
    #[arg(long)]
    pub memory: Option<String>,
    /// Soft memory limit: the kernel throttles and reclaims above it (v2 memory.high).
    #[arg(long)]
    pub memory_high: Option<String>,
    /// Swap allowed beyond memory.
    #[arg(long)]
    pub swap: Option<String>,
    /// CPU weight in OpenVZ cpuunits (8..=500000, default 1000).
    #[arg(long)]
    pub cpu_units: Option<String>,
    /// CPU cap in percent of one CPU (`50%`, `150%`).
    #[arg(long)]
    pub cpu_limit: Option<String>,
    /// CPUs to run on (`0-1,3`).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Maximum number of tasks.
    #[arg(long)]
    pub pids: Option<String>,
    /// Disk image size (`2Gi`); growing is live where the host allows it.
    #[arg(long)]
    pub disk_space: Option<String>,
    /// Inodes on the disk image (fixed when it is made: changing it needs a restart).
    #[arg(long)]
    pub disk_inodes: Option<String>,
    /// I/O weight (1..=10000, default 100).
    #[arg(long)]
    pub io_weight: Option<String>,
    /// OpenVZ's I/O priority (0..=7, vzctl's --ioprio), written as an I/O weight; replaces
    /// --io-weight (and the other way round).
    #[arg(long)]
    pub io_priority: Option<String>,
    /// Read bandwidth cap on the container's disk, bytes per second (`10Mi`).
    #[arg(long)]
    pub io_read_bps: Option<String>,
    /// Write bandwidth cap on the container's disk, bytes per second.
    #[arg(long)]
    pub io_write_bps: Option<String>,
    /// Read operations per second.
    #[arg(long)]
    pub io_read_iops: Option<String>,
    /// Write operations per second.
    #[arg(long)]
    pub io_write_iops: Option<String>,
    /// Grant a host device node, PATH or PATH:ACCESS (ACCESS some of r, w, m; default rwm),
    /// or take it back with PATH:none; repeatable (vzctl's --devnodes). Live where the host's
    /// device guard can change on a running container (cgroup v1's devices controller).
    #[arg(long = "device", value_name = "PATH[:ACCESS|none]")]
    pub device: Vec<String>,
    /// Allow a restart for changes that cannot be made live.
    #[arg(long)]
    pub restart: bool,
}

/// A `--device PATH[:ACCESS]` flag as a grant (checked later with the spec's rules).
pub(crate) fn device_flag(text: &str) -> DeviceGrant {
    let (path, access) = text.split_once(':').unwrap_or((text, DEFAULT_ACCESS));
    DeviceGrant {
        path: path.to_owned(),
        access: access.to_owned(),
    }
}

/// `grants` with each `--device` flag applied: a grant added or its access replaced, or, with
/// `:none`, taken back.
fn apply_device_flags(grants: &[DeviceGrant], flags: &[String]) -> Vec<DeviceGrant> {
    let mut out = grants.to_vec();
    for flag in flags {
        let grant = device_flag(flag);
        out.retain(|g| g.path != grant.path);
        if grant.access != "none" {
            out.push(grant);
        }
    }
    out
}

fn field<T>(
    name: &str,
    flag: &str,
    value: &Option<String>,
    current: Option<T>,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<Option<T>> {
    match value.as_deref().map(str::trim) {
        None => Ok(current),
        Some("none") => Ok(None),
        Some(text) => parse(text).map(Some).map_err(|why| Error::InvalidSpec {
            name: name.to_owned(),
            message: format!("--{flag} {why} (or `none` to remove the limit)"),
        }),
    }
}

fn size(text: &str) -> std::result::Result<u64, String> {
    parse_size(text).map_err(|e| e.message)
}

fn number<T: std::str::FromStr>(text: &str) -> std::result::Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// The resources after applying `args` to `current`.
pub fn resolve(args: &SetArgs, current: &Resources) -> Result<Resources> {
    let n = args.name.as_str();
    let mut io = current.io.clone();
    io.weight = field(n, "io-weight", &args.io_weight, io.weight, number)?;
    io.priority = field(n, "io-priority", &args.io_priority, io.priority, number)?;
    // Two spellings of one setting: the one given now replaces the other.
    if args.io_priority.is_some() && args.io_weight.is_none() {
        io.weight = None;
    }
    if args.io_weight.is_some() && args.io_priority.is_none() {
        io.priority = None;
    }
    io.read_bps = field(n, "io-read-bps", &args.io_read_bps, io.read_bps, size)?;
    io.write_bps = field(n, "io-write-bps", &args.io_write_bps, io.write_bps, size)?;
    io.read_iops = field(n, "io-read-iops", &args.io_read_iops, io.read_iops, number)?;
    io.write_iops = field(
        n,
        "io-write-iops",
        &args.io_write_iops,
        io.write_iops,
        number,
    )?;
    Ok(Resources {
        memory: field(n, "memory", &args.memory, current.memory, size)?,
        memory_high: field(
            n,
            "memory-high",
            &args.memory_high,
            current.memory_high,
            size,
        )?,
        swap: field(n, "swap", &args.swap, current.swap, size)?,
        cpu_units: field(n, "cpu-units", &args.cpu_units, current.cpu_units, number)?,
        cpu_limit: field(n, "cpu-limit", &args.cpu_limit, current.cpu_limit, |t| {
            parse_percent(t).map_err(|e| e.message)
        })?,
        cpus: field(n, "cpus", &args.cpus, current.cpus.clone(), |t| {
            Ok(t.to_owned())
        })?,
        pids: field(n, "pids", &args.pids, current.pids, number)?,
        disk_space: field(n, "disk-space", &args.disk_space, current.disk_space, size)?,
        disk_inodes: field(
            n,
            "disk-inodes",
            &args.disk_inodes,
            current.disk_inodes,
            number,
        )?,
        io,
    })
}

/// Runs `set`: reads the stored spec, changes its resources, updates the container.
pub fn run(runtime: &Runtime, args: &SetArgs, out: &mut impl Write) -> Result<()> {
    let mut spec = runtime
        .store
        .read_config(&args.name)?
        .ok_or_else(|| Error::NotFound(args.name.clone()))?;
    spec.resources = resolve(args, &spec.resources)?;
    spec.security.devices = apply_device_flags(&spec.security.devices, &args.device);
    // `set` changes limits only: the container keeps running, or stays stopped, whatever the
    // stored spec's state says (a container started by hand after `create --stopped` runs on).
    spec.state = match runtime.status(&args.name)?.state {
        ContainerState::Running => DesiredState::Running,
        _ => DesiredState::Stopped,
    };
    let changed = runtime.update(&spec, args.restart)?;
    super::report(out, &args.name, changed, "updated", "unchanged");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        set: SetArgs,
    }

    fn parse(args: &[&str]) -> SetArgs {
        T::try_parse_from(std::iter::once("set").chain(args.iter().copied()))
            .expect("flags parse")
            .set
    }

    #[test]
    fn flags_change_only_what_they_name_and_none_removes() {
        let current = Resources {
            memory: Some(1 << 30),
            pids: Some(100),
            ..Resources::default()
        };
        let args = parse(&[
            "web",
            "--memory",
            "512Mi",
            "--cpu-units",
            "2000",
            "--cpu-limit",
            "50%",
            "--pids",
            "none",
            "--disk-space",
            "2Gi",
        ]);
        let new = resolve(&args, &current).unwrap();
        assert_eq!(new.memory, Some(512 << 20));
        assert_eq!(new.cpu_units, Some(2000));
        assert_eq!(new.cpu_limit, Some(50));
        assert_eq!(new.pids, None);
        assert_eq!(new.disk_space, Some(2 << 30));
        assert_eq!(new.swap, None);
    }

    #[test]
    fn device_flags_add_replace_and_take_back_grants() {
        let now = vec![device_flag("/dev/fuse:rw"), device_flag("/dev/kvm")];
        let flags = ["/dev/fuse:r", "/dev/kvm:none", "/dev/net/tun"].map(String::from);
        let new = apply_device_flags(&now, &flags);
        assert_eq!(
            new,
            [device_flag("/dev/fuse:r"), device_flag("/dev/net/tun:rwm")]
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        let err = resolve(&parse(&["web", "--memory", "lots"]), &Resources::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--memory") && err.contains("512Mi"), "{err}");
        let err = resolve(&parse(&["web", "--pids=-3"]), &Resources::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--pids") && err.contains("whole number"),
            "{err}"
        );
    }
}
