//! The seccomp filter of a container's processes: the default deny list ([`profile`]) adjusted
//! by the spec's `security` field, compiled once per process into BPF programs (seccompiler) and
//! installed by init and by every exec'd command as the last step before execve.
//!
//! Neighbours: `container/spawn.rs` and `container/exec.rs` build a [`Filter`] before they fork
//! and call [`Filter::install`] in the child; the syscall table comes from `fleet_protocol`.
//! Only x86_64 is supported: elsewhere [`Filter::build`] refuses with a clear error.

mod guard;
pub mod profile;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use fleet_protocol::SecuritySpec;
use fleet_protocol::security::syscall_number;
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use profile::{Deny, When};

/// Filters compiled so far in this process, by the setting they were built for and whether
/// quota calls go to a listener (a node sees a handful of distinct settings, so a list is
/// enough).
type Cache = Vec<((SecuritySpec, bool), Arc<Filter>)>;

/// BPF programs ready to install, in order (the kernel runs every one on each call and takes
/// the strictest answer).
#[derive(Debug)]
pub struct Filter {
    programs: Vec<Vec<libc::sock_filter>>,
    /// `disk.user_quota`: the program that hands quota calls to a listener (installed last,
    /// with `SECCOMP_FILTER_FLAG_NEW_LISTENER`).
    quota: Option<Vec<libc::sock_filter>>,
}

impl Filter {
    /// The filter for `security`, compiled on first use and shared afterwards (a node starting
    /// many containers with the same settings compiles once).
    pub fn build(security: &SecuritySpec) -> Result<Arc<Filter>, String> {
        Self::build_for(security, false)
    }

    /// [`Filter::build`] for a container whose `quotactl` and `quotactl_fd` go to the quotactl
    /// broker (`disk.user_quota`) when `quota`, instead of failing with EPERM.
    pub fn build_for(security: &SecuritySpec, quota: bool) -> Result<Arc<Filter>, String> {
        static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, filter)) = cache
            .iter()
            .find(|((s, q), _)| s == security && *q == quota)
        {
            return Ok(filter.clone());
        }
        let filter = Arc::new(compile(security, quota)?);
        cache.push(((security.clone(), quota), filter.clone()));
        Ok(filter)
    }

    /// Installs every program on the calling thread (call it single-threaded, after fork, just
    /// before execve: the filter is inherited by everything the command starts).
    pub fn install(&self) -> std::io::Result<()> {
        self.install_listening().map(drop)
    }

    /// [`Filter::install`], returning the quota calls' listener when the filter hands them to
    /// one. The caller must pass it out and close its own copy before execve: whoever holds it
    /// answers the container's quota calls. Dropped, those calls fail with ENOSYS.
    pub fn install_listening(&self) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
        for program in &self.programs {
            crate::sys::seccomp::install(program)?;
        }
        self.quota
            .as_deref()
            .map(crate::sys::seccomp_notify::install_listening)
            .transpose()
    }

    /// Whether the filter hands quota calls to a listener ([`Filter::install_listening`]).
    pub fn listens(&self) -> bool {
        self.quota.is_some()
    }

    /// Number of BPF instructions over all programs (for tests and docs).
    pub fn len(&self) -> usize {
        self.programs.iter().chain(&self.quota).map(Vec::len).sum()
    }

    /// Whether the filter has no program (never true for a built filter).
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }
}

/// The entries in force for `security`: the default list less what nesting or `allow` lifts,
/// plus `deny` (which replaces a conditional default entry for the same call).
pub fn entries(security: &SecuritySpec) -> Vec<Deny> {
    let rules = &security.syscalls;
    let mut out: Vec<Deny> = profile::DEFAULT
        .iter()
        .filter(|d| !(d.nesting && security.nesting))
        .filter(|d| !rules.allow.contains(d.name) && !rules.deny.contains(d.name))
        .copied()
        .collect();
    out.extend(rules.deny.iter().filter_map(|name| {
        // Names were checked by validate_spec; the 'static name comes from the table.
        let name = fleet_protocol::security::syscall_names().find(|n| n == name)?;
        Some(Deny {
            name,
            when: When::Always,
            errno: profile::EPERM,
            nesting: false,
        })
    }));
    out
}

/// The calls the quotactl broker answers for a `disk.user_quota` container.
const BROKERED: [&str; 2] = ["quotactl", "quotactl_fd"];

/// The entries the deny programs hold: [`entries`], less the brokered calls when `quota`
/// (unless the spec itself denies them by name: the kernel takes EPERM over USER_NOTIF).
fn denied(security: &SecuritySpec, quota: bool) -> Vec<Deny> {
    let brokered =
        |d: &Deny| quota && BROKERED.contains(&d.name) && !security.syscalls.deny.contains(d.name);
    entries(security)
        .into_iter()
        .filter(|d| !brokered(d))
        .collect()
}

fn compile(security: &SecuritySpec, quota: bool) -> Result<Filter, String> {
    if !cfg!(target_arch = "x86_64") {
        return Err(format!(
            "seccomp filters are built for x86_64 only, not {}",
            std::env::consts::ARCH
        ));
    }
    let bad = |e: seccompiler::BackendError| format!("build the seccomp filter: {e}");
    let mut by_errno: BTreeMap<u32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    for deny in denied(security, quota) {
        let nr = syscall_number(deny.name)
            .ok_or_else(|| format!("unknown system call {:?}", deny.name))?;
        let rules = by_errno
            .entry(deny.errno)
            .or_default()
            .entry(i64::from(nr))
            .or_default();
        if let Some(rule) = rule(deny.when).map_err(bad)? {
            rules.push(rule);
        }
    }
    let mut programs = vec![guard::x32_and_foreign_abis()];
    for (errno, rules) in by_errno {
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno),
            TargetArch::x86_64,
        )
        .map_err(bad)?;
        let program: seccompiler::BpfProgram = filter.try_into().map_err(bad)?;
        programs.push(
            program
                .into_iter()
                .map(|i| libc::sock_filter {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect(),
        );
    }
    Ok(Filter {
        programs,
        quota: quota.then(guard::quota_calls_to_listener),
    })
}

/// The seccompiler rule for a condition; `None` matches every call (an empty rule list).
fn rule(when: When) -> Result<Option<SeccompRule>, seccompiler::BackendError> {
    let cond = |arg, len, op, value| SeccompCondition::new(arg, len, op, value);
    let conditions = match when {
        When::Always => return Ok(None),
        When::FlagSet { arg, mask } => vec![cond(
            arg,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(mask),
            mask,
        )?],
        When::Equals { arg, value } => {
            vec![cond(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)?]
        }
        When::NotOneOf { arg, values } => values
            .iter()
            .map(|v| cond(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, *v))
            .collect::<Result<_, _>>()?,
    };
    SeccompRule::new(conditions).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::SyscallRules;

    fn names(security: &SecuritySpec) -> Vec<&'static str> {
        entries(security).iter().map(|d| d.name).collect()
    }

    #[test]
    fn nesting_and_allow_lift_entries_and_deny_adds_them() {
        let default = SecuritySpec::default();
        assert!(names(&default).contains(&"mount"));
        assert!(names(&default).contains(&"io_uring_setup"));
        let nested = SecuritySpec {
            nesting: true,
            ..SecuritySpec::default()
        };
        assert!(!names(&nested).contains(&"mount"));
        assert!(!names(&nested).contains(&"unshare"));
        assert!(names(&nested).contains(&"kexec_load"));
        let custom = SecuritySpec {
            nesting: false,
            syscalls: SyscallRules {
                allow: ["io_uring_setup".to_owned()].into(),
                deny: ["personality".to_owned(), "chroot".to_owned()].into(),
            },
            ..SecuritySpec::default()
        };
        let entries = entries(&custom);
        assert!(!entries.iter().any(|d| d.name == "io_uring_setup"));
        let personality: Vec<_> = entries.iter().filter(|d| d.name == "personality").collect();
        assert_eq!(personality.len(), 1);
        assert_eq!(personality[0].when, When::Always);
        assert!(entries.iter().any(|d| d.name == "chroot"));
    }

    #[test]
    fn a_quota_filter_hands_quota_calls_to_a_listener_unless_the_spec_denies_them() {
        let plain = Filter::build(&SecuritySpec::default()).unwrap();
        assert!(plain.quota.is_none());
        let quota = Filter::build_for(&SecuritySpec::default(), true).unwrap();
        assert!(quota.quota.is_some());
        assert!(!Arc::ptr_eq(&plain, &quota));
        let denying = SecuritySpec {
            syscalls: SyscallRules {
                deny: ["quotactl".to_owned()].into(),
                ..SyscallRules::default()
            },
            ..SecuritySpec::default()
        };
        let names = |s: &SecuritySpec, q: bool| -> Vec<&str> {
            super::denied(s, q).iter().map(|d| d.name).collect()
        };
        let default = SecuritySpec::default();
        assert!(names(&default, false).contains(&"quotactl"));
        assert!(!names(&default, true).contains(&"quotactl"));
        assert!(!names(&default, true).contains(&"quotactl_fd"));
        // The spec's own deny wins.
        assert!(names(&denying, true).contains(&"quotactl"));
        assert!(!names(&denying, true).contains(&"quotactl_fd"));
    }

    #[test]
    fn compiles_once_per_setting() {
        let a = Filter::build(&SecuritySpec::default()).unwrap();
        let b = Filter::build(&SecuritySpec::default()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // The guard, then one program per errno (EPERM and ENOSYS).
        assert_eq!(a.programs.len(), 3);
        assert!(a.len() < 1000, "{} instructions", a.len());
    }
}
