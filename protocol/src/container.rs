//! The resolved container: what the orchestrator wants to exist on a host, with every profile
//! merged and every set expanded. `fleet-node` stores it as the container's config and compares a
//! new one against it to decide what can change live.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::restart::RestartSpec;
use crate::security::SecuritySpec;

/// One container as the orchestrator wants it, independent of any host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Unique name within the fleet; also the node's key for the container.
    pub name: String,
    /// The fleet that owns the container; pruning only ever touches its own fleet's containers.
    pub fleet: String,
    /// Root filesystem source.
    pub template: TemplateRef,
    /// The init process as an argv list (never a shell string).
    pub command: Vec<String>,
    /// Environment for the init process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Hostname inside the container's UTS namespace.
    pub hostname: String,
    /// Whether `fleet-node boot` starts it.
    #[serde(default)]
    pub onboot: bool,
    /// Whether it should be running.
    #[serde(default)]
    pub state: DesiredState,
    /// Free-form labels (kept for selection and reporting).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Resource limits; each unset field means "no limit".
    #[serde(default)]
    pub resources: Resources,
    /// Network attachment.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Run without a user namespace, so that container root is host root. The default (false)
    /// maps container root to an unprivileged host uid/gid range of its own. Always serialized:
    /// a stored config without it was written before unprivileged became the default (its old
    /// `user_namespace` key is read by the node's store).
    #[serde(default)]
    pub privileged: bool,
    /// Confinement beyond the defaults (nesting, syscalls allowed or denied); left out of the
    /// JSON when default.
    #[serde(default, skip_serializing_if = "SecuritySpec::is_default")]
    pub security: SecuritySpec,
    /// Who is PID 1: fleet-node's builtin init (reaps zombies, forwards signals) or the command.
    #[serde(default, skip_serializing_if = "InitMode::is_auto")]
    pub init: InitMode,
    /// What the node does when init ends without anyone stopping it (carried out by
    /// `fleet-node supervise`); left out of the JSON when `no`.
    #[serde(default, skip_serializing_if = "RestartSpec::is_default")]
    pub restart: RestartSpec,
    /// What the container's own disk starts with (its size and inodes are limits, in
    /// `resources`); left out of the JSON when default.
    #[serde(default, skip_serializing_if = "DiskSpec::is_default")]
    pub disk: DiskSpec,
}

impl ContainerSpec {
    /// A container of `fleet` named `name` (its hostname too) from `template` running
    /// `command`, with every other field at its default: running, no limits, no network,
    /// unprivileged. Fixtures and tools start from it and set what they need with struct update
    /// syntax, so that a new field is one default here rather than a line in every literal.
    pub fn new(fleet: &str, name: &str, template: TemplateRef, command: Vec<String>) -> Self {
        ContainerSpec {
            name: name.into(),
            fleet: fleet.into(),
            template,
            command,
            env: BTreeMap::new(),
            hostname: name.into(),
            onboot: false,
            state: DesiredState::Running,
            labels: BTreeMap::new(),
            resources: Resources::default(),
            network: NetworkSpec::default(),
            privileged: false,
            security: SecuritySpec::default(),
            init: InitMode::Auto,
            restart: RestartSpec::default(),
            disk: DiskSpec::default(),
        }
    }
}

/// The container's writable layer beyond its limits (the spec's `resources.disk.from`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// A directory on the host whose contents fleet-node copies into the container's writable
    /// layer once, before its first start (an OpenVZ simfs private area, say): owners, modes,
    /// links and extended attributes kept, symlinks copied as links and never followed, owners
    /// shifted into the container's uid range. Later changes are stored and copy nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Per-user and per-group quotas inside the container (OpenVZ's second-level quotas): the
    /// node makes its ext4 disk with the quota feature and mounts it with `usrquota,grpquota`.
    /// Needs `resources.disk.space` and a kernel with the QFMT_V2 quota format
    /// ([`crate::disk::USER_QUOTA_KERNEL`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user_quota: bool,
}

impl DiskSpec {
    /// Whether nothing is asked beyond the default (an empty layer).
    pub fn is_default(&self) -> bool {
        *self == DiskSpec::default()
    }
}

/// Who is the container's PID 1 (the spec's `init:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitMode {
    /// The builtin init unless the command is itself an init ([`KNOWN_INITS`]).
    #[default]
    Auto,
    /// Always fleet-node's builtin init, with the command as its child.
    Builtin,
    /// The command itself is PID 1 (it must reap orphans and handle signals).
    None,
}

/// Basenames of argv[0] that `init: auto` takes for an init of their own.
pub const KNOWN_INITS: &[&str] = &[
    "init",
    "systemd",
    "openrc-init",
    "runit",
    "runit-init",
    "s6-svscan",
    "tini",
    "dumb-init",
    "catatonit",
    "docker-init",
    "fleet-init",
];

impl InitMode {
    /// The spec's words for each mode.
    pub const CHOICES: &'static [&'static str] = &["auto", "builtin", "none"];

    /// The mode named `word` (one of [`InitMode::CHOICES`]).
    pub fn parse(word: &str) -> Option<InitMode> {
        match word {
            "auto" => Some(InitMode::Auto),
            "builtin" => Some(InitMode::Builtin),
            "none" => Some(InitMode::None),
            _ => None,
        }
    }

    /// The spec's word for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            InitMode::Auto => "auto",
            InitMode::Builtin => "builtin",
            InitMode::None => "none",
        }
    }

    /// Whether this is the default, `auto`.
    pub fn is_auto(&self) -> bool {
        *self == InitMode::Auto
    }

    /// Whether a container with this mode and `command` runs under the builtin init.
    pub fn builtin_for(self, command: &[String]) -> bool {
        match self {
            InitMode::Builtin => true,
            InitMode::None => false,
            InitMode::Auto => !command.first().is_some_and(|argv0| {
                let base = argv0.rsplit('/').next().unwrap_or(argv0);
                KNOWN_INITS.contains(&base)
            }),
        }
    }
}

/// Where a container's root filesystem comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemplateRef {
    /// The host's own /usr, /bin, /sbin, /lib* read-only; private /etc, /var, /tmp.
    Host,
    /// A tree built from the host's busybox-static binary.
    Busybox,
    /// A tarball (tar or tar.gz) on the host, checked against its sha256.
    Tarball {
        /// Template name, used as the cache key together with the digest.
        name: String,
        /// Path of the tarball on the host.
        path: String,
        /// Lowercase hex sha256 of the tarball.
        sha256: String,
    },
}

impl TemplateRef {
    /// Short name for listings: `host`, `busybox` or the tarball template's name.
    pub fn display_name(&self) -> &str {
        match self {
            TemplateRef::Host => "host",
            TemplateRef::Busybox => "busybox",
            TemplateRef::Tarball { name, .. } => name,
        }
    }
}

/// Desired run state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesiredState {
    /// Init runs.
    #[default]
    Running,
    /// Created but not running.
    Stopped,
}

/// Resource limits. `None` means unlimited / kernel default.
///
/// Units are canonical here: bytes, bytes per second, percent of one CPU, OpenVZ cpuunits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Fair-share weight in OpenVZ cpuunits (8..=500000; OpenVZ's default is 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_units: Option<u32>,
    /// Cap in percent of one CPU (150 = one and a half CPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<u32>,
    /// cpuset list, as the kernel writes it (`0-1,3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Soft memory limit in bytes (OpenVZ's barrier): above it the kernel throttles the
    /// container and reclaims its memory hard (cgroup v2 `memory.high`; on v1 the soft limit,
    /// which only steers reclaim when the host runs short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_high: Option<u64>,
    /// Swap allowed beyond memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<u64>,
    /// Maximum number of tasks (OpenVZ numproc). Unset means [`DEFAULT_PIDS`], not unlimited:
    /// the orchestrator fills it in, and a node applies it to a spec without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// Size of the container's disk image in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_space: Option<u64>,
    /// Number of inodes on the container's disk image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_inodes: Option<u64>,
    /// I/O limits.
    #[serde(default, skip_serializing_if = "IoLimits::is_empty")]
    pub io: IoLimits,
}

/// The task ceiling of a container whose spec sets none (OpenVZ's numproc). Enough for a full
/// system container (an init, sshd, cron, a JVM with a few hundred threads: each thread is a
/// task), and small enough that a fork bomb stops there, far below the host's `pid_max`
/// (4194304) and `threads-max`. `pids: 4194304` is the highest value a spec may ask for.
pub const DEFAULT_PIDS: u64 = 4096;

/// Block I/O limits on the container's own disk device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoLimits {
    /// Proportional weight (1..=10000, cgroup v2 scale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Read bandwidth in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bps: Option<u64>,
    /// Write bandwidth in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bps: Option<u64>,
    /// Read operations per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_iops: Option<u64>,
    /// Write operations per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_iops: Option<u64>,
    /// OpenVZ's I/O priority (0..=7, default 4), written as the weight
    /// [`crate::ioprio::weight`] gives; a spec sets it or `weight`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

impl IoLimits {
    /// True when no I/O limit is set.
    pub fn is_empty(&self) -> bool {
        *self == IoLimits::default()
    }

    /// The weight the node writes: `weight` as given, else the priority's (see
    /// [`crate::ioprio`]); `None` for neither or a priority outside 0..=7.
    pub fn effective_weight(&self) -> Option<u16> {
        self.weight
            .or_else(|| self.priority.and_then(crate::ioprio::weight))
    }
}

/// How a container is attached to the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Attachment mode.
    #[serde(default)]
    pub mode: NetworkMode,
    /// Host bridge the container's veth joins (bridged mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Addresses in CIDR form (`10.0.0.5/24`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Default gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// Network attachment mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Own network namespace with loopback only.
    #[default]
    None,
    /// Own network namespace with a veth pair to a host bridge.
    Bridged,
    /// Share the host's network namespace.
    Host,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ContainerSpec {
            onboot: true,
            resources: Resources {
                memory: Some(256 << 20),
                ..Resources::default()
            },
            ..ContainerSpec::new(
                "demo",
                "web-01",
                TemplateRef::Busybox,
                vec!["/bin/sleep".into(), "1000".into()],
            )
        };
        let json = serde_json::to_string(&spec).unwrap();
        let back: ContainerSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(spec, back);
    }

    #[test]
    fn auto_init_is_builtin_unless_the_command_is_an_init() {
        let cmd = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(InitMode::Auto.builtin_for(&cmd(&["/bin/sleep", "1"])));
        assert!(InitMode::Auto.builtin_for(&cmd(&["sh", "-c", "init"])));
        for init in [
            "/sbin/init",
            "/lib/systemd/systemd",
            "tini",
            "/usr/bin/dumb-init",
        ] {
            assert!(!InitMode::Auto.builtin_for(&cmd(&[init])), "{init}");
        }
        assert!(InitMode::Builtin.builtin_for(&cmd(&["/sbin/init"])));
        assert!(!InitMode::None.builtin_for(&cmd(&["sleep"])));
        for word in InitMode::CHOICES {
            assert_eq!(InitMode::parse(word).unwrap().as_str(), *word);
        }
    }

    #[test]
    fn auto_init_is_left_out_of_the_json() {
        let json = serde_json::json!({
            "name": "a", "fleet": "f", "template": {"kind": "busybox"},
            "command": ["sleep"], "hostname": "a"
        });
        let spec: ContainerSpec = serde_json::from_value(json).unwrap();
        assert_eq!(spec.init, InitMode::Auto);
        assert!(!serde_json::to_string(&spec).unwrap().contains("init"));
    }
}
