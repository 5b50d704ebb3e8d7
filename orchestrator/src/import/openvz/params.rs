//! Every parameter of a vzctl container config (ctid.conf(5)) and of vz.conf(5) that the import
//! knows, with what becomes of it. A parameter that is not here is unknown: a warning with a
//! suggestion, and still named in the spec's comments.

/// What becomes of one container parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Turned into a spec field by `map.rs`.
    Mapped,
    /// No equivalent in Fleet; the text says what it was and what Fleet does instead.
    Unmapped(&'static str),
}

/// The container parameters vzctl documents, in the order the summary lists them.
pub const CONTAINER: &[(&str, Fate)] = &[
    // Memory and processes (VSwap and the old UBC set).
    ("PHYSPAGES", Fate::Mapped),
    ("SWAPPAGES", Fate::Mapped),
    ("PRIVVMPAGES", Fate::Mapped),
    ("NUMPROC", Fate::Mapped),
    (
        "KMEMSIZE",
        Fate::Unmapped(
            "kernel memory: counted (fleet-node counters, kmemsize) inside the memory limit, not limited apart",
        ),
    ),
    (
        "LOCKEDPAGES",
        Fate::Unmapped(
            "mlocked memory: counted (lockedpages) inside the memory limit, not limited apart",
        ),
    ),
    (
        "SHMPAGES",
        Fate::Unmapped(
            "shared memory: counted (shmpages) inside the memory limit, not limited apart",
        ),
    ),
    (
        "VMGUARPAGES",
        Fate::Unmapped("memory guarantee: Fleet sets limits, not guarantees"),
    ),
    (
        "OOMGUARPAGES",
        Fate::Unmapped("OOM guarantee: Fleet sets limits, not guarantees"),
    ),
    (
        "NUMTCPSOCK",
        Fate::Unmapped("TCP sockets: not limited by count (socket memory is counted, tcpsockbuf)"),
    ),
    (
        "NUMOTHERSOCK",
        Fate::Unmapped(
            "other sockets: not limited by count (socket memory is counted, othersockbuf)",
        ),
    ),
    (
        "TCPSNDBUF",
        Fate::Unmapped(
            "TCP send buffers: counted inside the memory limit (tcpsockbuf), not limited apart",
        ),
    ),
    (
        "TCPRCVBUF",
        Fate::Unmapped(
            "TCP receive buffers: counted inside the memory limit (tcpsockbuf), not limited apart",
        ),
    ),
    (
        "OTHERSOCKBUF",
        Fate::Unmapped("other socket buffers: counted inside the memory limit, not limited apart"),
    ),
    (
        "DGRAMRCVBUF",
        Fate::Unmapped(
            "datagram receive buffers: counted inside the memory limit, not limited apart",
        ),
    ),
    (
        "DCACHESIZE",
        Fate::Unmapped(
            "dentry cache: counted inside the memory limit (kmemsize), not limited apart",
        ),
    ),
    (
        "NUMFILE",
        Fate::Unmapped("open files: counted (numfile), not limited"),
    ),
    (
        "NUMFLOCK",
        Fate::Unmapped("file locks: counted (numflock), not limited"),
    ),
    (
        "NUMPTY",
        Fate::Unmapped("pseudo-terminals: counted (numpty), not limited"),
    ),
    (
        "NUMSIGINFO",
        Fate::Unmapped("pending signals: counted (numsiginfo), not limited"),
    ),
    (
        "NUMIPTENT",
        Fate::Unmapped(
            "iptables entries: no equivalent (the network namespace has its own tables)",
        ),
    ),
    (
        "MEMINFO",
        Fate::Unmapped(
            "/proc/meminfo view: no equivalent (the container sees the host's /proc/meminfo)",
        ),
    ),
    (
        "VM_OVERCOMMIT",
        Fate::Unmapped("overcommit of privvmpages: no equivalent (memory is limited as used)"),
    ),
    // Disk.
    ("DISKSPACE", Fate::Mapped),
    ("DISKINODES", Fate::Mapped),
    ("VE_LAYOUT", Fate::Mapped),
    (
        "QUOTATIME",
        Fate::Unmapped("grace period of the soft disk limit: Fleet's disk limit is the hard one"),
    ),
    (
        "QUOTAUGIDLIMIT",
        Fate::Unmapped("second-level (per-user) quotas inside: not imported"),
    ),
    (
        "DISK_QUOTA",
        Fate::Unmapped("vzquota on or off: a Fleet disk always limits its space and inodes"),
    ),
    ("IOPRIO", Fate::Mapped),
    ("IOLIMIT", Fate::Mapped),
    ("IOPSLIMIT", Fate::Mapped),
    // CPU.
    ("CPUUNITS", Fate::Mapped),
    ("CPULIMIT", Fate::Mapped),
    ("CPUS", Fate::Mapped),
    ("CPUMASK", Fate::Mapped),
    (
        "NODEMASK",
        Fate::Unmapped("NUMA nodes: no equivalent (cpu.cpus pins CPUs)"),
    ),
    // Network.
    ("IP_ADDRESS", Fate::Mapped),
    ("NETIF", Fate::Mapped),
    ("HOSTNAME", Fate::Mapped),
    (
        "NAMESERVER",
        Fate::Unmapped(
            "DNS servers: vzctl wrote them into the container's /etc/resolv.conf, which comes along with --private; else put them in the template's",
        ),
    ),
    (
        "SEARCHDOMAIN",
        Fate::Unmapped("DNS search domains: in the container's /etc/resolv.conf, as NAMESERVER"),
    ),
    (
        "NETDEV",
        Fate::Unmapped("host network devices moved in: no equivalent"),
    ),
    (
        "IPTABLES",
        Fate::Unmapped("iptables modules: the container's network namespace has every table"),
    ),
    (
        "NETFILTER",
        Fate::Unmapped("netfilter access: the container's network namespace has every table"),
    ),
    // Identity, boot, templates.
    ("NAME", Fate::Mapped),
    ("ONBOOT", Fate::Mapped),
    ("DISABLED", Fate::Mapped),
    ("OSTEMPLATE", Fate::Mapped),
    ("DESCRIPTION", Fate::Mapped),
    ("VE_PRIVATE", Fate::Mapped),
    (
        "VE_ROOT",
        Fate::Unmapped("mount point of the running container: fleet-node chooses its own"),
    ),
    (
        "ORIGIN_SAMPLE",
        Fate::Unmapped("the sample config it was made from: the limits above came from it"),
    ),
    (
        "CONFIG_CUSTOMIZED",
        Fate::Unmapped("vzctl bookkeeping: nothing to carry over"),
    ),
    (
        "BOOTORDER",
        Fate::Unmapped("start order at boot: express order with depends_on"),
    ),
    (
        "STOP_TIMEOUT",
        Fate::Unmapped("seconds allowed to stop: fleet stop takes a timeout per call"),
    ),
    (
        "CAPABILITY",
        Fate::Unmapped("extra capabilities: Fleet keeps one bounding set (docs/security.md)"),
    ),
    (
        "FEATURES",
        Fate::Unmapped("OpenVZ features (nfs, sysfs, ...): no equivalent"),
    ),
    ("DEVICES", Fate::Unmapped("device access: not imported")),
    ("DEVNODES", Fate::Unmapped("device nodes: not imported")),
    ("PCI", Fate::Unmapped("PCI devices: no equivalent")),
    (
        "LOCAL_UID",
        Fate::Unmapped(
            "user namespace of vzctl 4: Fleet gives each container a uid range of its own",
        ),
    ),
    (
        "LOCAL_GID",
        Fate::Unmapped(
            "user namespace of vzctl 4: Fleet gives each container a uid range of its own",
        ),
    ),
    (
        "APPLY_IPONLY",
        Fate::Unmapped("vzctl's config scripts: nothing to carry over"),
    ),
    (
        "VEID",
        Fate::Unmapped("the container's id: taken from the file name"),
    ),
];

/// Settings of vzctl itself in vz.conf(5): they say how vzctl works on the old host, not what
/// a container is, so they are listed once and never carried over.
pub const VZCTL: &[&str] = &[
    "VIRTUOZZO",
    "LOCKDIR",
    "DUMPDIR",
    "VE0CPUUNITS",
    "LOGGING",
    "LOGFILE",
    "LOG_LEVEL",
    "VERBOSE",
    "VZFASTBOOT",
    "CONFIGFILE",
    "DEF_OSTEMPLATE",
    "TEMPLATE",
    "IPV6",
    "VE_STOP_MODE",
    "REMOVEMIGRATED",
    "NEIGHBOUR_DEVS",
    "ERROR_ON_ARPFAIL",
    "SKIP_SYSCTL_SETUP",
    "SKIP_ARPDETECT",
    "MODULES_DISABLED",
    "GOOD_PLOOP",
    "VZWDOG",
    "ACTIONSCRIPTDIR",
    "SNAPSHOT_DIR",
    "VE_PARALLEL",
    "USE_ATI",
];

/// What the import does with container parameter `key`, if it knows it.
pub fn fate(key: &str) -> Option<Fate> {
    CONTAINER.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// Whether `key` is one of vzctl's own settings.
pub fn is_vzctl_setting(key: &str) -> bool {
    VZCTL.contains(&key)
}

/// Every name the import knows, for suggestions.
pub fn known() -> impl Iterator<Item = &'static str> + Clone {
    CONTAINER
        .iter()
        .map(|(k, _)| *k)
        .chain(VZCTL.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_parameter_is_listed_twice() {
        let mut all: Vec<_> = known().collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
