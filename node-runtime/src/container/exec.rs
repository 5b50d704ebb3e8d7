//! exec: run a command inside a running container's namespaces and cgroup, with fleet-node's own
//! stdin, stdout and stderr, and pass its exit code through.
//!
//! A first child joins the v1 cgroups and each namespace but the cgroup one (setns; pid only
//! applies to children), then forks the command into the cgroup2 group (`cgroups/join.rs`),
//! which joins the cgroup namespace and is inside the container's pid namespace; the first child
//! waits and exits with the command's code. Both are non-dumpable until exec so nothing in the
//! container can reach the fleet-node binary through /proc. The command gets init's confinement:
//! the bounding set, a fresh session keyring and the container's seccomp filter (a quota
//! container's command hands its quota listener back to this process, which answers it while
//! the command runs).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;

use super::Runtime;
use super::confine::{Handover, confine, exec_command, filter_for, init_env};
use crate::cgroups::Forked;
use crate::error::{Error, Result, io_err};
use crate::store::validate_name;
use crate::sys::ns::{self, JOIN_ORDER};
use crate::sys::{caps, process};

/// Options for [`Runtime::exec`].
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Extra environment on top of init's defaults and the spec's env.
    pub env: Vec<(String, String)>,
    /// Run the command on a pseudo-terminal of the container's devpts (its controlling
    /// terminal), relaying fleet-node's stdin and stdout to it.
    pub tty: bool,
}

impl Runtime {
    /// Runs `argv` in the container and returns its exit code (128 + signal when killed).
    pub fn exec(&self, name: &str, argv: &[String], options: &ExecOptions) -> Result<i32> {
        validate_name(name)?;
        if argv.is_empty() || argv.iter().any(|a| a.contains('\0')) {
            return Err(Error::InvalidSpec {
                name: name.to_owned(),
                message: "exec needs a command without NUL bytes after --".into(),
            });
        }
        // The lock is held only to find init and open its namespaces: a long exec must not block
        // stop or destroy.
        let (namespaces, cgroup, spec, init) = {
            let lock = self.store.lock(name)?;
            let found = self
                .repair(name, &lock)?
                .ok_or_else(|| Error::NotFound(name.to_owned()))?;
            let init = found
                .init
                .ok_or_else(|| Error::NotRunning(name.to_owned()))?;
            let own_user = std::fs::read_link("/proc/self/ns/user").ok();
            let mut namespaces = Vec::new();
            for (kind, flag) in JOIN_ORDER {
                let path = format!("/proc/{init}/ns/{kind}");
                if kind == "user" && std::fs::read_link(&path).ok() == own_user {
                    continue;
                }
                let file = File::open(&path).map_err(io_err("open", &path))?;
                namespaces.push((file, flag));
            }
            let cgroup = self
                .cgroup(name)
                .join()
                .ready()
                .map_err(io_err("open the cgroup of", name))?;
            (namespaces, cgroup, found.spec, init)
        };
        let pty = if options.tty {
            let pts = std::path::PathBuf::from(format!("/proc/{init}/root"));
            Some(
                crate::sys::pty::open_pair(&pts)
                    .map_err(io_err("open a pty in /dev/pts of", &pts))?,
            )
        } else {
            None
        };
        let mut env_map = spec.env.clone();
        if options.tty
            && let Ok(term) = std::env::var("TERM")
        {
            env_map.insert("TERM".into(), term);
        }
        for (k, v) in &options.env {
            env_map.insert(k.clone(), v.clone());
        }
        let (env, path_dirs) = init_env(&env_map);
        let argv: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()).expect("checked: no NUL"))
            .collect();
        let last_cap = caps::last_cap();
        // A quota container's command hands its listener to this process (quota_broker.rs).
        let (filter, device) = filter_for(name, &spec, &self.store.layout(name))?;
        let handover = match device {
            Some(_) => Handover::for_filter(&filter).map_err(io_err("socketpair for", name))?,
            None => None,
        };
        let to_host = handover.as_ref().map(|h| &h.child);
        match process::fork().map_err(io_err("fork for exec in", name))? {
            process::ForkResult::Child => {
                process::set_non_dumpable();
                // Single-threaded after fork: "0" (this thread) moves the whole process.
                if let Err(e) = cgroup.join_v1() {
                    fail(&e.to_string());
                }
                // The cgroup namespace last, by the command itself: it is forked into the
                // cgroup2 group from outside that namespace (under nsdelegate the kernel
                // refuses a fork into a group from a namespace that does not see where the
                // parent is), and as host uid 0, before it becomes the container's root.
                let mut cgroup_ns = None;
                for (file, flag) in &namespaces {
                    if *flag == ns::CloneFlags::CLONE_NEWCGROUP {
                        cgroup_ns = Some(file);
                    } else if let Err(e) = ns::setns(file, *flag) {
                        fail(&format!("setns {flag:?}: {e}"));
                    }
                }
                let joined_user = namespaces
                    .iter()
                    .any(|(_, f)| *f == ns::CloneFlags::CLONE_NEWUSER);
                match cgroup.fork() {
                    Ok(Forked::Child(joined)) => {
                        if let Err(e) = joined {
                            fail(&e.to_string());
                        }
                        if let Some(file) = cgroup_ns
                            && let Err(e) = ns::setns(file, ns::CloneFlags::CLONE_NEWCGROUP)
                        {
                            fail(&format!("setns the cgroup namespace: {e}"));
                        }
                        drop(namespaces);
                        if joined_user && let Err(e) = process::become_root_in_userns() {
                            fail(&format!("become root in the user namespace: {e}"));
                        }
                        if let Some((_, slave, _)) = &pty {
                            let fd = slave.as_raw_fd();
                            let attached = process::setsid()
                                .and_then(|()| crate::sys::pty::set_controlling(fd))
                                .and_then(|()| process::dup_onto(fd, 0))
                                .and_then(|()| process::dup_onto(fd, 1))
                                .and_then(|()| process::dup_onto(fd, 2));
                            if let Err(e) = attached {
                                fail(&format!("attach the pty: {e}"));
                            }
                        }
                        if let Err(e) = caps::drop_bounding_set(last_cap) {
                            fail(&format!("drop capabilities: {e}"));
                        }
                        process::reset_signals();
                        process::cloexec_from(3);
                        if let Err(e) = confine(&filter, to_host) {
                            fail(&e);
                        }
                        let err = exec_command(&argv, &env, &path_dirs);
                        fail(&err)
                    }
                    Ok(Forked::Parent(child)) => {
                        // Only the command may hold the slave, so its exit ends the relay.
                        drop(pty);
                        let code = process::wait_child(child).unwrap_or(127);
                        process::exit_now(code)
                    }
                    Err(e) => fail(&format!("fork: {e}")),
                }
            }
            process::ForkResult::Parent { child } => {
                drop(namespaces);
                if let (Some(Handover { host, child }), Some(device)) = (handover, device) {
                    // Only the command (and the first child) may hold that end.
                    drop(child);
                    super::quota_broker::serve_exec(host, init, device);
                }
                if let Some((master, slave, _)) = pty {
                    drop(slave);
                    super::tty::relay(master).map_err(io_err("relay the pty of", name))?;
                }
                process::wait_child(child.as_raw()).map_err(io_err("wait for exec in", name))
            }
        }
    }
}

/// Reports an exec failure on stderr (raw write: no std locks after fork) and exits 127, as a
/// shell does for a command it cannot run.
fn fail(message: &str) -> ! {
    process::write_all_raw(2, format!("fleet-node exec: {message}\n").as_bytes());
    process::exit_now(127)
}
