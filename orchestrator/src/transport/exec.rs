//! `fleet-node exec` on a host, with the caller's stdin, stdout and stderr: over SSH as its own
//! exec channel (every word quoted by [`super::ssh::command_line`]), or as a child process for
//! `transport: local`. The command's exit status comes back (a signal as 128 + its number).
//! `fleet exec` calls [`run`].

use super::{ConnectOptions, TransportError, local, ssh};
use crate::model::{Host, NodeSettings, Transport};

/// Runs `fleet-node exec [-t] NAME -- CMD...` on `host`; returns the command's exit status.
pub async fn run(
    host: &Host,
    name: &str,
    tty: bool,
    command: &[String],
    opts: &ConnectOptions,
) -> Result<u32, TransportError> {
    run_argv(host, exec_argv(&host.node, name, tty, command), tty, opts).await
}

/// Runs `fleet-node --root R --cgroup-parent P ARGS...` on `host` with the caller's stdin,
/// stdout and stderr; returns its exit status.
pub async fn run_node(
    host: &Host,
    args: &[String],
    opts: &ConnectOptions,
) -> Result<u32, TransportError> {
    let mut argv = super::node_command(&host.node);
    argv.extend(args.iter().cloned());
    run_argv(host, argv, false, opts).await
}

async fn run_argv(
    host: &Host,
    argv: Vec<String>,
    tty: bool,
    opts: &ConnectOptions,
) -> Result<u32, TransportError> {
    match &host.transport {
        Transport::Local => {
            let (program, rest) = argv.split_first().expect("argv has the node path");
            let program = local::sibling_or_path(program);
            std::process::Command::new(&program)
                .args(rest)
                .status()
                .map(exit_status)
                .map_err(|source| TransportError::Spawn {
                    host: host.name.clone(),
                    program: program.display().to_string(),
                    source,
                })
        }
        Transport::Ssh(target) => {
            let handle = ssh::login(&host.name, target, opts).await?;
            ssh::run_streaming(&handle, &host.name, &argv, tty).await
        }
    }
}

/// `fleet-node --root R --cgroup-parent P exec [-t] NAME -- CMD...` for a host's node.
pub fn exec_argv(node: &NodeSettings, name: &str, tty: bool, command: &[String]) -> Vec<String> {
    let mut argv = super::node_command(node);
    argv.push("exec".into());
    if tty {
        argv.push("-t".into());
    }
    argv.push(name.into());
    argv.push("--".into());
    argv.extend(command.iter().cloned());
    argv
}

fn exit_status(status: std::process::ExitStatus) -> u32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u32::try_from(code).unwrap_or(255),
        (None, Some(signal)) => 128 + u32::try_from(signal).unwrap_or(0),
        _ => 255,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_exec_command_line_keeps_every_word() {
        let node = NodeSettings {
            path: "/opt/fleet-node".into(),
            root: "/var/lib/x y".into(),
            cgroup_parent: "fleet".into(),
        };
        let argv = exec_argv(
            &node,
            "c",
            false,
            &["/bin/sh".into(), "-c".into(), "echo $$; exit 3".into()],
        );
        assert_eq!(
            argv,
            [
                "/opt/fleet-node",
                "--root",
                "/var/lib/x y",
                "--cgroup-parent",
                "fleet",
                "exec",
                "c",
                "--",
                "/bin/sh",
                "-c",
                "echo $$; exit 3"
            ]
        );
        assert_eq!(
            ssh::command_line(&argv).unwrap(),
            "/opt/fleet-node --root '/var/lib/x y' --cgroup-parent fleet exec c -- /bin/sh -c 'echo $$; exit 3'"
        );
    }
}
