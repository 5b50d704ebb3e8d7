//! The local admin CLI, in the spirit of vzctl/vzlist: parse the flags into typed values
//! ([`Cli`]), resolve them into a spec or a verb, call the [`Runtime`], print.
//!
//! Neighbours: `main.rs` calls [`run`]; the work is in `container/` and `server/`.

mod counters;
mod set;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use fleet_protocol::{ContainerSpec, ContainerStatus, DesiredState, TemplateRef};
use serde_json::json;

use crate::container::{ExecOptions, Runtime};
use crate::error::{Error, Result};

/// `fleet-node`: run system containers on this host.
#[derive(Debug, Parser)]
#[command(
    name = "fleet-node",
    version,
    about,
    long_about = "Fleet's per-host runtime: builds system containers from namespaces, cgroups and \
                  loop-backed disks, and changes their limits live.\n\n\
                  The orchestrator drives it over `fleet-node serve --stdio`; these verbs are for \
                  operators on the host, in the spirit of vzctl and vzlist.",
    after_help = "Examples:\n  fleet-node create web1 --template busybox -- /bin/sleep infinity\n  \
                  fleet-node list -o json\n  fleet-node exec -t web1 -- /bin/sh\n  \
                  fleet-node set web1 --memory 512Mi --cpu-units 2000\n  fleet-node counters web1\n  \
                  fleet-node --root /srv/node2 --cgroup-parent node2 list   # a second node on one machine"
)]
pub struct Cli {
    /// State directory (containers, templates, logs).
    #[arg(long, global = true, default_value = "/var/lib/fleet-node")]
    pub root: PathBuf,
    /// Parent cgroup of every container.
    #[arg(long, global = true, default_value = "fleet")]
    pub cgroup_parent: String,
    /// Host ids handed out as unprivileged containers' uid/gid ranges, START-END (END
    /// exclusive), 65536 per container; default 100000-2147483648, or $FLEET_NODE_UID_POOL.
    /// Ranges in /etc/subuid, /etc/subgid and local accounts' ids are always skipped.
    #[arg(long, global = true, value_name = "START-END")]
    pub uid_pool: Option<crate::userns::Pool>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of list and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns for people.
    Text,
    /// JSON for programs.
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create (and start) a container.
    #[command(
        after_help = "Examples:\n  fleet-node create web1 --template busybox -- /bin/sleep infinity\n  \
                            fleet-node create app --template host --hostname app.internal --env ROLE=app -- /usr/bin/sleep infinity\n  \
                            fleet-node create alp --template /srv/alpine.tar.gz --sha256 0f3c... --onboot -- /sbin/init\n  \
                            fleet-node create legacy --template host --privileged   # container root is host root"
    )]
    Create {
        /// Container name.
        name: String,
        /// host, busybox, or the path of a .tar/.tar.gz (with --sha256).
        #[arg(long)]
        template: String,
        /// sha256 of a tarball template.
        #[arg(long)]
        sha256: Option<String>,
        /// Hostname inside (default: the name).
        #[arg(long)]
        hostname: Option<String>,
        /// Owning fleet.
        #[arg(long, default_value = "local")]
        fleet: String,
        /// Start at `fleet-node boot`.
        #[arg(long)]
        onboot: bool,
        /// Create without starting.
        #[arg(long)]
        stopped: bool,
        /// Run without a user namespace: container root is host root. Without it (the
        /// default) container root is an unprivileged host uid range of its own.
        #[arg(long)]
        privileged: bool,
        /// Accepted for old scripts: unprivileged is the default now.
        #[arg(long, hide = true, conflicts_with = "privileged")]
        user_namespace: bool,
        /// Allow user namespaces, mounts, setns and pivot_root inside (spec `security.nesting`).
        #[arg(long)]
        nesting: bool,
        /// A system call the default seccomp filter denies that this container may make
        /// (repeatable; spec `security.syscalls.allow`).
        #[arg(long = "allow-syscall", value_name = "NAME")]
        allow_syscall: Vec<String>,
        /// A system call to deny with EPERM on top of the default filter (repeatable).
        #[arg(long = "deny-syscall", value_name = "NAME")]
        deny_syscall: Vec<String>,
        /// Environment for init, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Init's argv (default: sleep infinity).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Start init.
    Start {
        /// Container name.
        name: String,
    },
    /// Stop: SIGTERM, then kill after the timeout.
    ///
    /// An init that does not handle SIGTERM (the kernel ignores it for a namespace's init) is
    /// killed at once.
    #[command(after_help = "Example:\n  fleet-node stop web1 --timeout 30")]
    Stop {
        /// Container name.
        name: String,
        /// Seconds to wait after SIGTERM.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Stop, then start.
    Restart {
        /// Container name.
        name: String,
        /// Seconds to wait after SIGTERM.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Stop and remove everything the container holds.
    #[command(
        after_help = "Example:\n  fleet-node destroy web1   # no mount, cgroup, loop device or directory is left"
    )]
    Destroy {
        /// Container name.
        name: String,
    },
    /// Change a container's limits, live (`none` removes one).
    Set(set::SetArgs),
    /// Beancounters: held, maxheld, barrier, limit, failcnt per resource.
    Counters(counters::CountersArgs),
    /// Every container.
    #[command(
        after_help = "Examples:\n  fleet-node list\n  fleet-node list -o json | jq -r '.[] | select(.state == \"running\") | .name'"
    )]
    List {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Format,
    },
    /// One container.
    #[command(after_help = "Example:\n  fleet-node status web1 -o json")]
    Status {
        /// Container name.
        name: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Run a command inside a running container.
    #[command(
        after_help = "Examples:\n  fleet-node exec web1 -- /bin/ps\n  fleet-node exec -t web1 -- /bin/sh\n\n\
                            The command's exit status is fleet-node's."
    )]
    Exec {
        /// Container name.
        name: String,
        /// Give the command a terminal (for interactive shells).
        #[arg(short = 't', long)]
        tty: bool,
        /// The command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print init's console log.
    #[command(after_help = "Example:\n  fleet-node logs web1 | tail")]
    Logs {
        /// Container name.
        name: String,
    },
    /// Start every onboot container.
    #[command(
        after_help = "Run it from the host's boot (a systemd unit or rc.local):\n  fleet-node boot"
    )]
    Boot,
    /// Serve the orchestrator's protocol.
    #[command(
        after_help = "The orchestrator runs this over SSH; by hand it reads length-delimited JSON frames:\n  \
                            fleet-node --root /var/lib/fleet-node serve --stdio"
    )]
    Serve {
        /// On stdin/stdout (the only transport).
        #[arg(long, required = true)]
        stdio: bool,
    },
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let mut runtime = Runtime::new(&cli.root, &cli.cgroup_parent)?;
    if let Some(pool) = uid_pool(cli.uid_pool)? {
        runtime.uid_pool = pool;
    }
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Create {
            name,
            template,
            sha256,
            hostname,
            fleet,
            onboot,
            stopped,
            privileged,
            user_namespace,
            nesting,
            allow_syscall,
            deny_syscall,
            env,
            command,
        } => {
            if user_namespace {
                eprintln!(
                    "fleet-node: --user-namespace is the default now (unprivileged); it can be left out"
                );
            }
            let spec = ContainerSpec {
                hostname: hostname.unwrap_or_else(|| name.clone()),
                template: parse_template(&template, sha256)?,
                command: if command.is_empty() {
                    vec!["sleep".into(), "infinity".into()]
                } else {
                    command
                },
                env: parse_env(&name, &env)?,
                fleet,
                onboot,
                state: if stopped {
                    DesiredState::Stopped
                } else {
                    DesiredState::Running
                },
                labels: BTreeMap::new(),
                resources: Default::default(),
                network: Default::default(),
                privileged,
                security: fleet_protocol::SecuritySpec {
                    nesting,
                    syscalls: fleet_protocol::SyscallRules {
                        allow: allow_syscall.into_iter().collect(),
                        deny: deny_syscall.into_iter().collect(),
                    },
                },
                name,
            };
            let changed = runtime.create(&spec)?;
            let _ = writeln!(
                out,
                "{}: {}",
                spec.name,
                if changed { "created" } else { "unchanged" }
            );
        }
        Command::Start { name } => report(
            &mut out,
            &name,
            runtime.start(&name)?,
            "started",
            "already running",
        ),
        Command::Stop { name, timeout } => report(
            &mut out,
            &name,
            runtime.stop(&name, Duration::from_secs(timeout))?,
            "stopped",
            "not running",
        ),
        Command::Restart { name, timeout } => {
            runtime.restart(&name, Duration::from_secs(timeout))?;
            let _ = writeln!(out, "{name}: restarted");
        }
        Command::Destroy { name } => report(
            &mut out,
            &name,
            runtime.destroy(&name)?,
            "destroyed",
            "did not exist",
        ),
        Command::Set(args) => set::run(&runtime, &args, &mut out)?,
        Command::Counters(args) => counters::run(&runtime, &args, &mut out)?,
        Command::List { output } => {
            let all: Vec<_> = runtime
                .list()?
                .into_iter()
                .map(|s| runtime.with_usage(s))
                .collect();
            match output {
                Format::Json => {
                    let rows: Vec<_> = all.iter().map(row).collect();
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&rows).expect("json")
                    );
                }
                Format::Text => {
                    let _ = writeln!(
                        out,
                        "{:<24} {:<12} {:<8} {:>8} {:<10} HOSTNAME",
                        "NAME", "FLEET", "STATE", "PID", "TEMPLATE"
                    );
                    for s in &all {
                        let _ = writeln!(
                            out,
                            "{:<24} {:<12} {:<8} {:>8} {:<10} {}",
                            s.name,
                            s.fleet,
                            state_name(s),
                            s.init_pid.map_or("-".into(), |p| p.to_string()),
                            s.spec.template.display_name(),
                            s.spec.hostname
                        );
                    }
                }
            }
        }
        Command::Status { name, output } => {
            let s = runtime.with_usage(runtime.status(&name)?);
            match output {
                Format::Json => {
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&row(&s)).expect("json")
                    );
                }
                Format::Text => {
                    let _ = writeln!(
                        out,
                        "{} {} pid {} template {} hostname {}",
                        s.name,
                        state_name(&s),
                        s.init_pid.map_or("-".into(), |p| p.to_string()),
                        s.spec.template.display_name(),
                        s.spec.hostname
                    );
                }
            }
        }
        Command::Exec { name, tty, command } => {
            drop(out);
            let options = ExecOptions {
                tty,
                ..ExecOptions::default()
            };
            return runtime.exec(&name, &command, &options);
        }
        Command::Logs { name } => {
            let path = runtime.log_path(&name)?;
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let _ = out.write_all(&bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::error::io_err("read", &path)(e)),
            }
        }
        Command::Boot => {
            let mut failed = 0;
            for (name, result) in runtime.boot()? {
                match result {
                    Ok(changed) => {
                        let _ = writeln!(
                            out,
                            "{name}: {}",
                            if changed {
                                "started"
                            } else {
                                "already running"
                            }
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("fleet-node: {name}: {e}");
                    }
                }
            }
            return Ok(i32::from(failed > 0));
        }
        Command::Serve { .. } => {
            drop(out);
            crate::server::serve_stdio(&runtime)
                .map_err(crate::error::io_err("serve on", "stdio"))?;
        }
    }
    Ok(0)
}

fn report(out: &mut impl Write, name: &str, changed: bool, yes: &str, no: &str) {
    let _ = writeln!(out, "{name}: {}", if changed { yes } else { no });
}

fn state_name(s: &ContainerStatus) -> &'static str {
    match s.state {
        fleet_protocol::ContainerState::Running => "running",
        fleet_protocol::ContainerState::Stopped => "stopped",
        fleet_protocol::ContainerState::Broken => "broken",
    }
}

/// The JSON row of list and status: the flat fields first, the full status nested.
fn row(s: &ContainerStatus) -> serde_json::Value {
    json!({
        "name": s.name,
        "fleet": s.fleet,
        "state": state_name(s),
        "init_pid": s.init_pid,
        "hostname": s.spec.hostname,
        "template": s.spec.template.display_name(),
        "spec": s.spec,
        "live": s.live,
        "usage": s.usage,
    })
}

/// `host`, `busybox`, or a tarball path (which needs `--sha256`).
pub fn parse_template(text: &str, sha256: Option<String>) -> Result<TemplateRef> {
    match text {
        "host" => Ok(TemplateRef::Host),
        "busybox" => Ok(TemplateRef::Busybox),
        path if [".tar", ".tar.gz", ".tgz"]
            .iter()
            .any(|s| path.ends_with(s)) =>
        {
            let sha256 = sha256
                .ok_or_else(|| Error::UnknownTemplate(format!("{path} (missing --sha256)")))?;
            let abs = std::path::absolute(path).map_err(crate::error::io_err("resolve", path))?;
            let name = abs
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tarball")
                .trim_end_matches(".gz")
                .trim_end_matches(".tgz")
                .trim_end_matches(".tar")
                .to_owned();
            Ok(TemplateRef::Tarball {
                name,
                path: abs.display().to_string(),
                sha256,
            })
        }
        other => Err(Error::UnknownTemplate(other.to_owned())),
    }
}

fn parse_env(name: &str, pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Error::InvalidSpec {
                    name: name.to_owned(),
                    message: format!("--env {p:?} is not KEY=VALUE"),
                })
        })
        .collect()
}

/// `--uid-pool`, else `$FLEET_NODE_UID_POOL` (for nodes the orchestrator starts over SSH).
fn uid_pool(flag: Option<crate::userns::Pool>) -> Result<Option<crate::userns::Pool>> {
    if flag.is_some() {
        return Ok(flag);
    }
    match std::env::var(crate::userns::POOL_ENV) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map(Some)
            .map_err(|e| Error::UidPool(format!("${}: {e}", crate::userns::POOL_ENV))),
        _ => Ok(None),
    }
}
