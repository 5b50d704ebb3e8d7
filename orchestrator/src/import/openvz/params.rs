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

/// The text of `LOCAL_UID` and `LOCAL_GID`, which share a fate.
const VZCTL4_USERNS: &str =
    "user namespace of vzctl 4: Fleet gives each container a uid range of its own";

/// A table of [`Fate`]s: `NAME` alone is mapped, `NAME => "why"` has no equivalent and says why.
macro_rules! fates {
    (@fate) => { Fate::Mapped };
    (@fate $why:expr) => { Fate::Unmapped($why) };
    ($($name:ident $(=> $why:expr)?,)*) => {
        &[$((stringify!($name), fates!(@fate $($why)?))),*]
    };
}

/// The container parameters vzctl documents, in the order the summary lists them.
pub const CONTAINER: &[(&str, Fate)] = fates! {
    // Memory and processes (VSwap and the old UBC set).
    PHYSPAGES,
    SWAPPAGES,
    PRIVVMPAGES,
    NUMPROC,
    KMEMSIZE => "kernel memory: counted (fleet-node counters, kmemsize) inside the memory limit, \
        not limited apart",
    LOCKEDPAGES => "mlocked memory: counted (lockedpages) inside the memory limit, not limited \
        apart",
    SHMPAGES => "shared memory: counted (shmpages) inside the memory limit, not limited apart",
    VMGUARPAGES => "memory guarantee: Fleet sets limits, not guarantees",
    OOMGUARPAGES => "OOM guarantee: Fleet sets limits, not guarantees",
    NUMTCPSOCK => "TCP sockets: not limited by count (socket memory is counted, tcpsockbuf)",
    NUMOTHERSOCK => "other sockets: not limited by count (socket memory is counted, othersockbuf)",
    TCPSNDBUF => "TCP send buffers: counted inside the memory limit (tcpsockbuf), not limited \
        apart",
    TCPRCVBUF => "TCP receive buffers: counted inside the memory limit (tcpsockbuf), not limited \
        apart",
    OTHERSOCKBUF => "other socket buffers: counted inside the memory limit, not limited apart",
    DGRAMRCVBUF => "datagram receive buffers: counted inside the memory limit, not limited apart",
    DCACHESIZE => "dentry cache: counted inside the memory limit (kmemsize), not limited apart",
    NUMFILE => "open files: counted (numfile), not limited",
    NUMFLOCK => "file locks: counted (numflock), not limited",
    NUMPTY => "pseudo-terminals: counted (numpty), not limited",
    NUMSIGINFO => "pending signals: counted (numsiginfo), not limited",
    NUMIPTENT => "iptables entries: no equivalent (the network namespace has its own tables)",
    MEMINFO => "/proc/meminfo view: no equivalent (the container sees the host's /proc/meminfo)",
    VM_OVERCOMMIT => "overcommit of privvmpages: no equivalent (memory is limited as used)",
    // Disk.
    DISKSPACE,
    DISKINODES,
    VE_LAYOUT,
    QUOTATIME => "grace period of the soft disk limit: Fleet's disk limit is the hard one",
    QUOTAUGIDLIMIT,
    DISK_QUOTA => "vzquota on or off: a Fleet disk always limits its space and inodes",
    IOPRIO,
    IOLIMIT,
    IOPSLIMIT,
    // CPU.
    CPUUNITS,
    CPULIMIT,
    CPUS,
    CPUMASK,
    NODEMASK => "NUMA nodes: no equivalent (cpu.cpus pins CPUs)",
    // Network.
    IP_ADDRESS,
    NETIF,
    HOSTNAME,
    NAMESERVER => "DNS servers: vzctl wrote them into the container's /etc/resolv.conf, which \
        comes along with --private; else put them in the template's",
    SEARCHDOMAIN => "DNS search domains: in the container's /etc/resolv.conf, as NAMESERVER",
    NETDEV => "host network devices moved in: no equivalent",
    IPTABLES => "iptables modules: the container's network namespace has every table",
    NETFILTER => "netfilter access: the container's network namespace has every table",
    // Identity, boot, templates.
    NAME,
    ONBOOT,
    DISABLED,
    OSTEMPLATE,
    DESCRIPTION,
    VE_PRIVATE,
    VE_ROOT => "mount point of the running container: fleet-node chooses its own",
    ORIGIN_SAMPLE => "the sample config it was made from: the limits above came from it",
    CONFIG_CUSTOMIZED => "vzctl bookkeeping: nothing to carry over",
    BOOTORDER => "start order at boot: express order with depends_on",
    STOP_TIMEOUT => "seconds allowed to stop: fleet stop takes a timeout per call",
    CAPABILITY => "extra capabilities: Fleet keeps one bounding set (docs/security.md)",
    FEATURES => "OpenVZ features (nfs, sysfs, ...): no equivalent",
    DEVICES,
    DEVNODES,
    PCI => "PCI devices: no equivalent",
    LOCAL_UID => VZCTL4_USERNS,
    LOCAL_GID => VZCTL4_USERNS,
    APPLY_IPONLY => "vzctl's config scripts: nothing to carry over",
    VEID => "the container's id: taken from the file name",
};

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
