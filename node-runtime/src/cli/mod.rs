//! The local admin CLI, in the spirit of vzctl/vzlist: parse the flags into typed values
//! ([`Cli`]), resolve them into a spec or a verb, call the [`Runtime`], print.
//!
//! One file per verb (create, lifecycle for start/stop/restart/destroy, set, counters, show for
//! list/status, exec for exec/logs, boot, supervise); this file holds the global flags and the dispatch.
//! Neighbours: `main.rs` calls [`run`]; the work is in `container/` and `server/`.

mod boot;
mod checkpoint;
mod counters;
mod create;
mod docs;
mod exec;
mod lifecycle;
mod logs;
mod logs_stamp;
mod quota_broker;
mod set;
mod show;
mod snapshot;
mod supervise;
mod unit;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use create::parse_template;

use crate::container::Runtime;
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
    #[arg(long, global = true, default_value = crate::store::DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Parent cgroup of every container.
    #[arg(long, global = true, default_value = "fleet")]
    pub cgroup_parent: String,
    /// Host ids handed out as unprivileged containers' uid/gid ranges, START-END (END
    /// exclusive), 65536 per container; default 100000-2147483648, or $FLEET_NODE_UID_POOL.
    /// Ranges in /etc/subuid, /etc/subgid and local accounts' ids are always skipped.
    #[arg(long, global = true, value_name = "START-END")]
    pub uid_pool: Option<crate::userns::Pool>,
    /// Bound of each container's console log: console.log and the rotated console.log.1
    /// together hold at most SIZE bytes, the latest (such as 16Mi; default 4Mi, or
    /// $FLEET_NODE_CONSOLE_LOG_MAX). Read at each start.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_log_max)]
    pub console_log_max: Option<u64>,
    /// The criu binary for checkpoint and restore; default `criu` on PATH, or $FLEET_NODE_CRIU.
    /// The hello reports whether it passes `criu check` and its version.
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,
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
    Create(create::CreateArgs),
    /// Start init.
    Start(lifecycle::NameArg),
    /// Stop: SIGTERM, then kill after the timeout.
    ///
    /// An init that does not handle SIGTERM (the kernel ignores it for a namespace's init) is
    /// killed at once. A stopped container is not restarted by its restart policy.
    #[command(after_help = "Examples:\n  fleet-node stop web1 --timeout 30\n  \
                            fleet-node stop --all                       # every container, in parallel\n  \
                            fleet-node stop --all --if-shutting-down    # what fleet-node.service runs at ExecStop")]
    Stop(lifecycle::StopArgs),
    /// Stop, then start.
    Restart(lifecycle::RestartArgs),
    /// Stop and remove everything the container holds.
    #[command(
        after_help = "Example:\n  fleet-node destroy web1   # no mount, cgroup, loop device or directory is left"
    )]
    Destroy(lifecycle::NameArg),
    /// Change a container's limits, live (`none` removes one).
    Set(set::SetArgs),
    /// Beancounters: held, maxheld, barrier, limit, failcnt per resource.
    Counters(counters::CountersArgs),
    /// Every container.
    #[command(
        after_help = "Examples:\n  fleet-node list\n  fleet-node list -o json | jq -r '.[] | select(.state == \"running\") | .name'"
    )]
    List(show::ListArgs),
    /// One container.
    #[command(after_help = "Example:\n  fleet-node status web1 -o json")]
    Status(show::StatusArgs),
    /// Run a command inside a running container.
    #[command(
        after_help = "Examples:\n  fleet-node exec web1 -- /bin/ps\n  fleet-node exec -t web1 -- /bin/sh\n\n\
                            The command's exit status is fleet-node's."
    )]
    Exec(exec::ExecArgs),
    /// Print init's console log (its stdout and stderr); -f keeps printing what it writes.
    #[command(
        after_help = "Examples:\n  fleet-node logs web1\n  fleet-node logs web1 --tail 20\n  fleet-node logs web1 -f --timestamps"
    )]
    Logs(logs::LogsArgs),
    /// Start every onboot container.
    #[command(
        after_help = "Run it from the host's boot (a systemd unit or rc.local):\n  fleet-node boot"
    )]
    Boot,
    /// Watch every container's init and restart it by its restart policy (no, on-failure,
    /// always), with back-off: 1 s, 2 s, 4 s, ... up to 5 min.
    ///
    /// The one long-running fleet-node process, and an optional one: without it everything but
    /// restarts works, and the orchestrator's plan warns about the policies no supervisor
    /// carries out. It runs until SIGTERM or SIGINT, which leave every container running.
    #[command(
        after_help = "Under systemd the fleet-node.service unit runs it (see the README):
                              fleet-node supervise --boot   # start the onboot containers, then watch

                            By hand, in the foreground (one per --root):
                              fleet-node supervise"
    )]
    Supervise(supervise::SuperviseArgs),
    /// Install fleet-node.service for this node (this binary, --root, --cgroup-parent, and
    /// --uid-pool and --console-log-max when given), enable and (re)start it: onboot containers
    /// at boot, restarts by policy, a clean stop at shutdown.
    ///
    /// A restart of the unit (an upgrade) leaves every container running. On a host without
    /// systemd it says so and changes nothing. `fleet bootstrap` runs it on every host.
    #[command(after_help = "Examples:\n  fleet-node install-unit\n  \
                            fleet-node --root /srv/node2 --cgroup-parent node2 install-unit --print   # review it first")]
    InstallUnit(unit::InstallUnitArgs),
    /// Dump a running container's processes with CRIU into a host directory.
    #[command(after_help = "Examples:\n  \
                            fleet-node checkpoint web1 /var/lib/fleet-checkpoints/web1            # web1 stops\n  \
                            fleet-node checkpoint web1 /var/lib/fleet-checkpoints/web1 --leave-running\n\n\
                            The cgroup is frozen for the dump and thawed on any failure. Needs a criu that\n\
                            passes `criu check` (--criu PATH, or $FLEET_NODE_CRIU, or criu on PATH).")]
    Checkpoint(checkpoint::CheckpointArgs),
    /// Bring a stopped container's processes back from a checkpoint directory.
    #[command(
        after_help = "Example:\n  fleet-node restore web1 /var/lib/fleet-checkpoints/web1\n\n\
                            Init continues where it was dumped (memory, open files, TCP connections), in the\n\
                            container's own cgroup with its limits and its veth and addresses."
    )]
    Restore(checkpoint::RestoreArgs),
    /// Snapshots of a container's data: take one, list, restore, delete.
    #[command(
        after_help = "Examples:\n  fleet-node snapshot web1 before-upgrade\n  \
                            fleet-node snapshot list web1 -o json\n  fleet-node stop web1 && \
                            fleet-node snapshot restore web1 before-upgrade && fleet-node start web1\n  \
                            fleet-node snapshot delete web1 before-upgrade\n\n\
                            A snapshot copies the disk image or upper layer (reflinked where the filesystem can,\n\
                            else sparse); a running container is frozen for the copy."
    )]
    Snapshot(snapshot::SnapshotArgs),
    /// A new container with another's data and config.
    #[command(after_help = "Examples:\n  fleet-node clone web1 web2 --start\n  \
                            fleet-node clone db1 db2 --address 10.0.0.12/24\n\n\
                            The clone gets its own uid range at its first start.")]
    Clone(snapshot::CloneArgs),
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
    /// The quota broker of a `disk.user_quota` container (started by its start; not for
    /// operators).
    #[command(hide = true)]
    QuotaBroker(quota_broker::QuotaBrokerArgs),
    /// Print a shell completion script for fleet-node.
    #[command(after_help = "Examples (the .deb installs all three):\n  \
                            fleet-node completion bash > /usr/share/bash-completion/completions/fleet-node\n  \
                            fleet-node completion zsh > /usr/share/zsh/vendor-completions/_fleet-node\n  \
                            fleet-node completion fish > /usr/share/fish/vendor_completions.d/fleet-node.fish")]
    Completion(cli_docs::CompletionArgs),
    /// Write man pages for fleet-node and each of its verbs (fleet-node.1, fleet-node-set.1, ...).
    #[command(
        after_help = "Example:\n  fleet-node man-pages /usr/local/share/man/man1 && man fleet-node-set"
    )]
    ManPages(cli_docs::ManPagesArgs),
}

/// Runs the parsed command line; returns the process exit code. Each verb's work is in its own
/// file.
pub fn run(cli: Cli) -> Result<i32> {
    if let Some(answer) = docs::run(&cli.command) {
        return answer;
    }
    if let Command::QuotaBroker(args) = &cli.command {
        return quota_broker::run(args);
    }
    if matches!(cli.command, Command::Exec(_)) {
        // Before anything is opened: the command runs from a read-only bind of this binary, so
        // a container cannot write it through /proc/PID/exe (sys/sealed_exe.rs).
        crate::sys::sealed_exe::reexec_read_only().map_err(crate::error::io_err(
            "execute itself read-only",
            "/proc/self/exe",
        ))?;
    }
    let mut runtime = Runtime::new(&cli.root, &cli.cgroup_parent)?;
    if let Some(pool) = uid_pool(cli.uid_pool)? {
        runtime.uid_pool = pool;
    }
    runtime.console_log_max = match cli.console_log_max {
        Some(max) => max,
        None => match std::env::var(CONSOLE_LOG_MAX_ENV) {
            Ok(text) if !text.is_empty() => parse_log_max(&text)
                .map_err(|e| Error::Setting(format!("${CONSOLE_LOG_MAX_ENV}: {e}")))?,
            _ => crate::container::console::DEFAULT_MAX,
        },
    };
    runtime.criu = cli
        .criu
        .or_else(|| std::env::var_os(crate::checkpoint::criu::CRIU_ENV).map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Create(args) => create::run(&runtime, args, &mut out)?,
        Command::Start(args) => lifecycle::start(&runtime, &args, &mut out)?,
        Command::Stop(args) => return lifecycle::stop(&runtime, &args, &mut out),
        Command::Restart(args) => lifecycle::restart(&runtime, &args, &mut out)?,
        Command::Destroy(args) => lifecycle::destroy(&runtime, &args, &mut out)?,
        Command::Set(args) => set::run(&runtime, &args, &mut out)?,
        Command::Counters(args) => counters::run(&runtime, &args, &mut out)?,
        Command::List(args) => show::list(&runtime, &args, &mut out)?,
        Command::Status(args) => show::status(&runtime, &args, &mut out)?,
        Command::Exec(args) => {
            drop(out);
            return exec::exec(&runtime, &args);
        }
        Command::Logs(args) => logs::logs(&runtime, &args, &mut out)?,
        Command::Boot => return boot::run(&runtime, &mut out),
        Command::Supervise(args) => {
            drop(out);
            supervise::run(&runtime, &args)?;
        }
        Command::InstallUnit(args) => {
            let pool = (runtime.uid_pool != crate::userns::DEFAULT_POOL)
                .then(|| runtime.uid_pool.to_string());
            return unit::run(&runtime, pool, &args, &mut out);
        }
        Command::Checkpoint(args) => checkpoint::checkpoint(&runtime, &args, &mut out)?,
        Command::Restore(args) => checkpoint::restore(&runtime, &args, &mut out)?,
        Command::Snapshot(args) => snapshot::run(&runtime, &args, &mut out)?,
        Command::Clone(args) => snapshot::clone(&runtime, &args, &mut out)?,
        Command::Serve { .. } => {
            drop(out);
            crate::server::serve_stdio(&runtime)
                .map_err(crate::error::io_err("serve on", "stdio"))?;
        }
        // Answered above, before the runtime opened any state.
        Command::Completion(_) | Command::ManPages(_) | Command::QuotaBroker(_) => {}
    }
    Ok(0)
}

/// The environment's console log bound, for a node started over SSH.
const CONSOLE_LOG_MAX_ENV: &str = "FLEET_NODE_CONSOLE_LOG_MAX";

/// A console log bound: a size of at least 8Ki (two files of a few lines).
fn parse_log_max(text: &str) -> std::result::Result<u64, String> {
    let size = fleet_protocol::units::parse_size(text).map_err(|e| e.to_string())?;
    if size < 8 << 10 {
        return Err(format!(
            "{text} is too small for a console log: give at least 8Ki"
        ));
    }
    Ok(size)
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

/// `NAME: yes` when the verb changed something, else `NAME: no`: the one line a verb on one
/// container prints.
fn report(out: &mut impl Write, name: &str, changed: bool, yes: &str, no: &str) {
    let _ = writeln!(out, "{name}: {}", if changed { yes } else { no });
}
