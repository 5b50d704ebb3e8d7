//! `fleet-node create NAME --template T [-- CMD...]`: make (and start) a container from flags.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use fleet_protocol::{
    ContainerSpec, DesiredState, InitMode, RestartPolicy, RestartSpec, TemplateRef,
};

use crate::container::Runtime;
use crate::error::{Error, Result};

/// Flags of `fleet-node create`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  fleet-node create web1 --template busybox -- /bin/sleep infinity\n  \
                        fleet-node create app --template host --hostname app.internal --env ROLE=app -- /usr/bin/sleep infinity\n  \
                        fleet-node create alp --template /srv/alpine.tar.gz --sha256 0f3c... --onboot -- /sbin/init\n  \
                        fleet-node create legacy --template host --privileged   # container root is host root\n  \
                        fleet-node create worker --template busybox --restart on-failure --max-retries 5 -- /bin/worker\n  \
                        fleet-node create fs --template busybox --device /dev/fuse --device /dev/net/tun:rw"
)]
pub struct CreateArgs {
    /// Container name.
    pub name: String,
    /// host, busybox, or the path of a .tar/.tar.gz (with --sha256).
    #[arg(long)]
    pub template: String,
    /// sha256 of a tarball template.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Hostname inside (default: the name).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Owning fleet.
    #[arg(long, default_value = "local")]
    pub fleet: String,
    /// Start at `fleet-node boot`.
    #[arg(long)]
    pub onboot: bool,
    /// Create without starting.
    #[arg(long)]
    pub stopped: bool,
    /// Run without a user namespace: container root is host root. Without it (the
    /// default) container root is an unprivileged host uid range of its own.
    #[arg(long)]
    pub privileged: bool,
    /// Accepted for old scripts: unprivileged is the default now.
    #[arg(long, hide = true, conflicts_with = "privileged")]
    pub user_namespace: bool,
    /// Allow user namespaces, mounts, setns and pivot_root inside (spec `security.nesting`).
    #[arg(long)]
    pub nesting: bool,
    /// A system call the default seccomp filter denies that this container may make
    /// (repeatable; spec `security.syscalls.allow`).
    #[arg(long = "allow-syscall", value_name = "NAME")]
    pub allow_syscall: Vec<String>,
    /// A system call to deny with EPERM on top of the default filter (repeatable).
    #[arg(long = "deny-syscall", value_name = "NAME")]
    pub deny_syscall: Vec<String>,
    /// PID 1: auto (the builtin init, which reaps orphans and forwards signals, unless the
    /// command is itself an init such as /sbin/init or systemd), builtin, or none (the
    /// command is PID 1).
    #[arg(long, default_value = "auto", value_parser = parse_init)]
    pub init: InitMode,
    /// When init ends without anyone stopping it: no, on-failure (non-zero exit or a signal)
    /// or always; carried out by `fleet-node supervise` (the fleet-node.service unit).
    #[arg(long, default_value = "no", value_parser = parse_restart)]
    pub restart: RestartPolicy,
    /// Restarts in a row after which the supervisor gives up (default: never).
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// A host device node the container may use, PATH or PATH:ACCESS with ACCESS some of r, w,
    /// m (default rwm); repeatable (spec `security.devices`, vzctl's --devnodes).
    #[arg(long = "device", value_name = "PATH[:ACCESS]")]
    pub device: Vec<String>,
    /// Environment for init, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Init's argv (default: sleep infinity).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Runs `create`.
pub fn run(runtime: &Runtime, args: CreateArgs, out: &mut impl Write) -> Result<()> {
    let spec = spec(args)?;
    let changed = runtime.create(&spec)?;
    super::report(out, &spec.name, changed, "created", "unchanged");
    Ok(())
}

/// The spec the flags describe.
fn spec(args: CreateArgs) -> Result<ContainerSpec> {
    let CreateArgs {
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
        init,
        restart,
        max_retries,
        device,
        env,
        command,
    } = args;
    let devices = device.iter().map(|d| super::set::device_flag(d)).collect();
    if user_namespace {
        eprintln!(
            "fleet-node: --user-namespace is the default now (unprivileged); it can be left out"
        );
    }
    Ok(ContainerSpec {
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
            devices,
        },
        init,
        restart: RestartSpec {
            policy: restart,
            max_retries,
        },
        disk: Default::default(),
        name,
    })
}

/// `--init`: one of the spec's words.
fn parse_init(word: &str) -> std::result::Result<InitMode, String> {
    InitMode::parse(word).ok_or_else(|| {
        format!(
            "unknown init mode {word:?}: expected one of {}",
            InitMode::CHOICES.join(", ")
        )
    })
}

/// `--restart`: one of the spec's words.
fn parse_restart(word: &str) -> std::result::Result<RestartPolicy, String> {
    RestartPolicy::parse(word).ok_or_else(|| {
        format!(
            "unknown restart policy {word:?}: expected one of {}",
            RestartPolicy::CHOICES.join(", ")
        )
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
