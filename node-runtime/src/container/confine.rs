//! The last steps of every process fleet-node starts inside a container (init and exec'd
//! commands): its environment, its confinement (a fresh session keyring, the seccomp filter,
//! and for a `disk.user_quota` container the hand-over of the filter's quota listener to the
//! host), and the exec itself.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use fleet_protocol::ContainerSpec;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

use crate::error::{Error, Result};
use crate::quotactl;
use crate::seccomp::Filter;
use crate::store::Layout;
use crate::sys::process;

/// The seccomp filter of every process started in container `name`, init's and an exec'd
/// command's alike, and for a `disk.user_quota` container the loop device of its disk, which
/// the broker answering the filter's quota calls works on.
pub(crate) fn filter_for(
    name: &str,
    spec: &ContainerSpec,
    layout: &Layout,
) -> Result<(Arc<Filter>, Option<PathBuf>)> {
    let quota = spec.disk.user_quota;
    let filter = Filter::build_for(&spec.security, quota).map_err(|message| Error::Spawn {
        name: name.to_owned(),
        message,
    })?;
    let device = match quota {
        true => super::resources::disk_device(name, layout)?,
        false => None,
    };
    Ok((filter, device))
}

/// The last steps before execve, shared by init and exec: a session keyring of the process's
/// own, then the seccomp filter (which denies keyctl from then on). A `disk.user_quota`
/// container's filter hands its quota calls to a listener: it leaves over `handover` and this
/// process keeps no copy (one that held it could answer its own quota calls).
pub(crate) fn confine(filter: &Filter, handover: Option<&OwnedFd>) -> Result<(), String> {
    crate::sys::keyring::join_fresh_session()
        .map_err(|e| format!("join a new session keyring: {e}"))?;
    let listener = filter
        .install_listening()
        .map_err(|e| format!("install the seccomp filter: {e}"))?;
    match (listener, handover) {
        (Some(listener), Some(socket)) => quotactl::handover::send(socket.as_fd(), listener)
            .map_err(|e| format!("hand the quota calls' listener out: {e}")),
        // Without a broker the quota calls fail with ENOSYS.
        _ => Ok(()),
    }
}

/// The socket pair a quota listener leaves the container by, made before the fork when the
/// filter has one: the node keeps `host`, the child sends on `child` (close-on-exec, so
/// nothing inside keeps it).
pub(crate) struct Handover {
    pub host: OwnedFd,
    pub child: OwnedFd,
}

impl Handover {
    /// A pair when `filter` hands quota calls to a listener.
    pub fn for_filter(filter: &Filter) -> std::io::Result<Option<Handover>> {
        if !filter.listens() {
            return Ok(None);
        }
        let (host, child) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(Some(Handover { host, child }))
    }

    /// The listener the child sent. Call once the child has exec'd (or died) and this process
    /// has dropped its copy of `child`: nothing then holds the other end open, and a child
    /// that failed before sending ends the wait with an error instead of a hang.
    pub fn receive(host: OwnedFd) -> std::io::Result<OwnedFd> {
        quotactl::handover::recv(host.as_fd())
    }
}

/// Execs argv (searching `path_dirs` when argv[0] has no slash); returns the error.
pub(crate) fn exec_command(argv: &[CString], env: &[CString], path_dirs: &[String]) -> String {
    let Some(first) = argv.first() else {
        return "empty command".into();
    };
    let name = first.to_string_lossy();
    let candidates: Vec<CString> = if name.contains('/') {
        vec![first.clone()]
    } else {
        path_dirs
            .iter()
            .filter_map(|d| CString::new(format!("{d}/{name}")).ok())
            .collect()
    };
    let mut last = std::io::Error::from_raw_os_error(libc::ENOENT);
    for path in &candidates {
        let err = process::execve(path, argv, env);
        if err.raw_os_error() != Some(libc::ENOENT) {
            return format!("exec {}: {err}", path.to_string_lossy());
        }
        last = err;
    }
    format!("exec {name}: {last}")
}

/// The environment init gets: PATH, HOME, TERM and `container=fleet`, overridden by the spec.
pub(crate) fn init_env(
    spec_env: &std::collections::BTreeMap<String, String>,
) -> (Vec<CString>, Vec<String>) {
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        "PATH".to_owned(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
    );
    env.insert("HOME".to_owned(), "/root".to_owned());
    env.insert("TERM".to_owned(), "linux".to_owned());
    env.insert("container".to_owned(), "fleet".to_owned());
    for (k, v) in spec_env {
        env.insert(k.clone(), v.clone());
    }
    let path_dirs = env["PATH"].split(':').map(str::to_owned).collect();
    let env = env
        .iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect();
    (env, path_dirs)
}
