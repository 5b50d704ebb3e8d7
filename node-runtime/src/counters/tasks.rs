//! The rows counted from the container's processes rather than its cgroup: open files
//! (numfile), pseudo-terminals held open (numpty), file locks held (numflock) and queued
//! signals (numsiginfo). The kernel keeps no per-cgroup count of any of them, so each read
//! walks the container's processes: one `/proc/PID/fd` listing per process (threads share
//! their process's table) plus one readlink per descriptor to spot `/dev/pts/N`, one read of
//! `/proc/locks`, one `/proc/PID/status` per process. That is O(processes + descriptors):
//! docs/limits.md has the figures for a container with 10 000 open files.
//!
//! Nothing here follows a path the container controls: `/proc/PID/fd/N` is read with
//! readlink, which returns the name and opens nothing, and pids come from the cgroup.
//!
//! Queued signals are the kernel's count per user (`SigQ` in `/proc/PID/status`), and a user of
//! the host's own user namespace is host-wide: the console keeper and an exec's first child run
//! as host root in the container's cgroup, and their `SigQ` is every host-root process's. So in
//! a container with a user namespace of its own, only the processes inside it are counted; a
//! privileged container shares the host's namespace and its ids' counts with the host.
//!
//! None of these has a limit in Fleet (pids caps processes; the memory limit holds what they
//! cost), so barrier and limit are unlimited and no peak or failcnt is known.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::Beancounter;

/// The four rows for the processes `pids` (host pids, from `cgroup.procs`), read under `proc`
/// (`/proc`). A process that exits during the walk is skipped.
pub fn rows(proc: &Path, pids: &[i32]) -> Vec<Beancounter> {
    let mut files = 0u64;
    let mut ptys = HashSet::new();
    // SigQ counts queued signals per user of a user namespace, so each (namespace, uid) is
    // counted once.
    let mut sigq: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for pid in pids {
        let dir = proc.join(pid.to_string());
        if let Ok(entries) = std::fs::read_dir(dir.join("fd")) {
            for entry in entries.flatten() {
                files += 1;
                if let Ok(target) = std::fs::read_link(entry.path())
                    && let Some(n) = target
                        .to_str()
                        .and_then(|t| t.strip_prefix("/dev/pts/"))
                        .and_then(|n| n.parse::<u32>().ok())
                {
                    ptys.insert(n);
                }
            }
        }
        if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
            let uid =
                field(&status, "Uid:").and_then(|v| v.split_whitespace().next()?.parse().ok());
            let queued = field(&status, "SigQ:").and_then(|v| v.split('/').next()?.parse().ok());
            if let (Some(uid), Some(queued)) = (uid, queued) {
                sigq.insert((userns_of(&dir), uid), queued);
            }
        }
    }
    let locks = std::fs::read_to_string(proc.join("locks"))
        .map(|text| held_locks(&text, &pids.iter().copied().collect()))
        .unwrap_or(0);
    vec![
        Beancounter::counted("numfile", files),
        Beancounter::counted("numpty", ptys.len() as u64),
        Beancounter::counted("numflock", locks),
        Beancounter::counted(
            "numsiginfo",
            queued_signals(&userns_of(&proc.join("self")), &sigq),
        ),
    ]
}

/// The sum of the `(user namespace, uid)` counts, without the host's namespace where another
/// one is there (see the header).
fn queued_signals(host: &str, sigq: &BTreeMap<(String, u32), u64>) -> u64 {
    let own = sigq.keys().any(|(ns, _)| ns != host);
    sigq.iter()
        .filter(|((ns, _), _)| !own || *ns != host)
        .map(|(_, n)| n)
        .sum()
}

/// The `user:[N]` name of the user namespace of the process directory `dir` (empty if gone).
fn userns_of(dir: &Path) -> String {
    std::fs::read_link(dir.join("ns/user"))
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The value of the `key` line (`Uid:`) of a `/proc/PID/status` text.
fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// Locks in `/proc/locks` text held by one of `pids`; a waiter's line (`->`) holds nothing.
fn held_locks(text: &str, pids: &HashSet<i32>) -> u64 {
    text.lines()
        .filter(|line| !line.contains("->"))
        .filter_map(|line| line.split_whitespace().nth(4)?.parse::<i32>().ok())
        .filter(|pid| pids.contains(pid))
        .count() as u64
}

/// The processes of a cgroup directory (`cgroup.procs`).
pub fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_of_the_container_are_counted_and_waiters_are_not() {
        let text = "1: POSIX  ADVISORY  WRITE 100 08:01:1 0 EOF\n\
                    1: -> POSIX  ADVISORY  WRITE 101 08:01:1 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 101 08:01:2 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 999 08:01:3 0 EOF\n\
                    4: OFDLCK ADVISORY  READ  -1 08:01:4 0 EOF\n";
        assert_eq!(held_locks(text, &HashSet::from([100, 101])), 2);
    }

    #[test]
    fn host_users_signals_are_left_out_where_the_container_has_its_own_namespace() {
        let host = "user:[1]";
        let counts = |pairs: &[(&str, u32, u64)]| {
            pairs
                .iter()
                .map(|(ns, uid, n)| ((ns.to_string(), *uid), *n))
                .collect::<BTreeMap<_, _>>()
        };
        // The keeper as host root (every host-root process's queue) beside container root.
        let unprivileged = counts(&[(host, 0, 37), ("user:[9]", 0, 5), ("user:[9]", 1000, 2)]);
        assert_eq!(queued_signals(host, &unprivileged), 7);
        // A privileged container has only the host's namespace.
        let privileged = counts(&[(host, 0, 5), (host, 1000, 2)]);
        assert_eq!(queued_signals(host, &privileged), 7);
    }

    #[test]
    fn this_process_has_open_files() {
        let rows = rows(Path::new("/proc"), &[std::process::id() as i32]);
        assert_eq!(rows[0].resource, "numfile");
        assert!(
            rows[0].held >= 3,
            "stdin, stdout, stderr at least: {:?}",
            rows[0]
        );
    }
}
