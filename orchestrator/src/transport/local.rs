//! `transport: local`: runs `fleet-node ... serve --stdio` as a child process of `fleet` and
//! speaks the wire over its stdin and stdout.
//!
//! The same server the SSH transport reaches on remote hosts, so every protocol test runs without
//! SSH too. The child's stderr is kept (last few KiB) to explain a session that ends early.

use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use super::frame::{StderrTail, push_stderr};
use super::{NodeStream, TransportError};

/// A running local node: the child and the stream to it.
pub struct LocalSession {
    /// The child; it exits when its stdin closes.
    pub child: Child,
    /// stdout and stdin joined.
    pub stream: Box<dyn NodeStream>,
    /// Its stderr, as it arrives.
    pub stderr: StderrTail,
}

/// Starts `argv` (the node binary first) with piped stdio.
pub fn spawn(host: &str, argv: &[String]) -> Result<LocalSession, TransportError> {
    let (program, args) = argv.split_first().ok_or_else(|| TransportError::Spawn {
        host: host.into(),
        program: String::new(),
        source: std::io::Error::other("empty command"),
    })?;
    let program = sibling_or_path(program);
    let mut child = Command::new(&program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| TransportError::Spawn {
            host: host.into(),
            program: program.display().to_string(),
            source,
        })?;
    let (Some(stdin), Some(stdout), Some(mut err)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(TransportError::Spawn {
            host: host.into(),
            program: program.display().to_string(),
            source: std::io::Error::other("child has no piped stdio"),
        });
    };
    let stderr = StderrTail::default();
    let tail = stderr.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                break;
            }
            push_stderr(&tail, &buf[..n]);
        }
    });
    Ok(LocalSession {
        child,
        stream: Box::new(tokio::io::join(stdout, stdin)),
        stderr,
    })
}

/// A bare program name (`fleet-node`) is looked up beside the running `fleet` first, so a built
/// tree uses its own matching node without installing it; then in `PATH` as usual.
pub fn sibling_or_path(program: &str) -> std::path::PathBuf {
    if !program.contains('/')
        && let Some(sibling) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(program)))
        && sibling.is_file()
    {
        return sibling;
    }
    std::path::PathBuf::from(program)
}
