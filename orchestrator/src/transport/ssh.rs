//! `transport: ssh`: one SSH session per host per run (russh), running
//! `fleet-node --root R --cgroup-parent P serve --stdio` on the host and speaking the wire over
//! the channel's stdin and stdout.
//!
//! Host keys are checked by `known_hosts` from inside russh's `check_server_key`; a refused key
//! aborts the handshake and the reason is reported as a [`HostKeyError`]. Authentication is by
//! public key: the spec's identity file, else the user's usual keys (`~/.ssh/id_ed25519`,
//! `id_ecdsa`, `id_rsa`), then an ssh-agent if `SSH_AUTH_SOCK` is set. The remote command is a
//! string in SSH, so every word is quoted by [`shell_quote`]. A connection that fails to open is
//! tried once more; keepalives detect a host that went away.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, load_secret_key};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use super::closing::ClosingWriter;
use super::frame::{NodeStream, StderrTail, push_stderr};
use super::known_hosts::{self, Accepted, HostKeyError};
use super::{ConnectOptions, TransportError};
use crate::model::{HostKeyPolicy, SshTarget};

/// Quotes one word for a POSIX shell: left bare when it is made only of characters no shell
/// treats specially, else wrapped in single quotes with each `'` written as `'\''`. NUL cannot be
/// passed through a shell at all and is refused.
pub fn shell_quote(word: &str) -> Result<String, TransportError> {
    if word.contains('\0') {
        return Err(TransportError::BadArgument(word.escape_debug().to_string()));
    }
    let bare = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./=:@%+,".contains(&b));
    if bare {
        Ok(word.to_string())
    } else {
        Ok(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// Joins an argv list into one remote command line, each word quoted.
pub fn command_line(argv: &[String]) -> Result<String, TransportError> {
    let words: Result<Vec<String>, _> = argv.iter().map(|w| shell_quote(w)).collect();
    Ok(words?.join(" "))
}

/// russh's callbacks: verifies the host key and remembers why one was refused.
pub struct Verifier {
    host: String,
    addr: String,
    port: u16,
    policy: HostKeyPolicy,
    accept_new: bool,
    refusal: Arc<Mutex<Option<HostKeyError>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            // Host certificates would need @cert-authority lines, which the known_hosts helpers
            // do not read.
            let _ = self.refusal.lock().map(|mut r| {
                *r = Some(HostKeyError::File {
                    path: PathBuf::from("known_hosts"),
                    reason: format!(
                        "{} offered a host certificate, which fleet does not verify",
                        self.host
                    ),
                })
            });
            return Ok(false);
        };
        let offer = known_hosts::Offer {
            host: &self.host,
            addr: &self.addr,
            port: self.port,
            key,
            accept_new: self.accept_new,
        };
        match known_hosts::verify(&self.policy, &offer) {
            Ok(Accepted::Known) => Ok(true),
            Ok(Accepted::Recorded) => {
                eprintln!(
                    "fleet: recorded the host key of {} ({}) in known_hosts",
                    self.host,
                    known_hosts::fingerprint(key)
                );
                Ok(true)
            }
            Err(e) => {
                if let Ok(mut r) = self.refusal.lock() {
                    *r = Some(e);
                }
                Ok(false)
            }
        }
    }
}

/// An open SSH session running the node.
pub struct SshSession {
    /// Keeps the connection up; dropping it disconnects.
    pub handle: Handle<Verifier>,
    /// The channel's stdout (in) and stdin (out).
    pub stream: Box<dyn NodeStream>,
    /// The channel's stderr and exit status, as they arrive.
    pub stderr: StderrTail,
}

/// Opens a session to `target` and runs `argv` there; one retry if the connection fails to open.
pub async fn open(
    host: &str,
    target: &SshTarget,
    argv: &[String],
    opts: &ConnectOptions,
) -> Result<SshSession, TransportError> {
    let command = command_line(argv)?;
    match open_once(host, target, &command, opts).await {
        Err(e) if e.is_retryable() => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            open_once(host, target, &command, opts).await
        }
        other => other,
    }
}

async fn open_once(
    host: &str,
    target: &SshTarget,
    command: &str,
    opts: &ConnectOptions,
) -> Result<SshSession, TransportError> {
    let handle = login_once(host, target, opts).await?;
    let ssh_err = |e: russh::Error| TransportError::Connect {
        host: host.into(),
        addr: format!("{}:{}", target.address, target.port),
        reason: e.to_string(),
    };
    let channel = handle.channel_open_session().await.map_err(ssh_err)?;
    channel.exec(true, command).await.map_err(ssh_err)?;
    let (mut read, write) = channel.split();
    let closed = CancellationToken::new();
    let writer = ClosingWriter::new(write.make_writer(), closed.clone());
    let stderr = StderrTail::default();
    let tail = stderr.clone();
    let (ours, mut theirs) = tokio::io::duplex(256 << 10);
    tokio::spawn(async move {
        // Keeps the write half (and so the channel) open as long as the pump runs.
        let _write = write;
        // However the pump ends (close, lost connection), a writer waiting on the channel's
        // window is woken with an error instead of waiting forever.
        let _closed = closed.drop_guard();
        while let Some(msg) = read.wait().await {
            match msg {
                ChannelMsg::Data { data } if theirs.write_all(&data).await.is_err() => break,
                ChannelMsg::Data { .. } => {}
                ChannelMsg::ExtendedData { data, .. } => push_stderr(&tail, &data),
                ChannelMsg::ExitStatus { exit_status } => {
                    let note = match exit_status {
                        127 => "\n(remote command exited with status 127: fleet-node not found; \
                                run `fleet bootstrap` to install it)"
                            .to_string(),
                        s => format!("\n(remote command exited with status {s})"),
                    };
                    push_stderr(&tail, note.as_bytes());
                }
                // The exit status follows end of output: keep reading until the close, so a
                // node that failed to start is explained by the time its reader sees the end.
                ChannelMsg::Close => break,
                _ => {}
            }
        }
    });
    let (ours_read, _ours_write) = tokio::io::split(ours);
    Ok(SshSession {
        handle,
        stream: Box::new(tokio::io::join(ours_read, writer)),
        stderr,
    })
}

/// Connects, verifies the host key and logs in; one retry if the connection fails to open.
pub async fn login(
    host: &str,
    target: &SshTarget,
    opts: &ConnectOptions,
) -> Result<Handle<Verifier>, TransportError> {
    match login_once(host, target, opts).await {
        Err(e) if e.is_retryable() => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            login_once(host, target, opts).await
        }
        other => other,
    }
}

async fn login_once(
    host: &str,
    target: &SshTarget,
    opts: &ConnectOptions,
) -> Result<Handle<Verifier>, TransportError> {
    let config = Arc::new(client::Config {
        keepalive_interval: Some(opts.keepalive),
        keepalive_max: 3,
        inactivity_timeout: None,
        ..Default::default()
    });
    let refusal = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        host: host.into(),
        addr: target.address.clone(),
        port: target.port,
        policy: target.host_key.clone(),
        accept_new: opts.accept_new_host_keys,
        refusal: refusal.clone(),
    };
    let addr = (target.address.as_str(), target.port);
    let connecting = client::connect(config, addr, verifier);
    let mut handle = match tokio::time::timeout(opts.connect_timeout, connecting).await {
        Err(_) => {
            return Err(TransportError::Timeout {
                host: host.into(),
                addr: format!("{}:{}", target.address, target.port),
                secs: opts.connect_timeout.as_secs(),
            });
        }
        Ok(Err(e)) => {
            if let Some(refused) = refusal.lock().ok().and_then(|mut r| r.take()) {
                return Err(TransportError::HostKey(refused));
            }
            return Err(TransportError::Connect {
                host: host.into(),
                addr: format!("{}:{}", target.address, target.port),
                reason: e.to_string(),
            });
        }
        Ok(Ok(h)) => h,
    };
    authenticate(&mut handle, host, target).await?;
    Ok(handle)
}

/// What a remote command left.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    /// Exit status (255 if the server sent none).
    pub status: u32,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// Runs `argv` (each word quoted) on a logged-in session, feeding it `input` then end of input.
pub async fn run_command(
    handle: &Handle<Verifier>,
    argv: &[String],
    input: &[u8],
) -> Result<CommandOutput, TransportError> {
    let line = command_line(argv)?;
    let err = |e: russh::Error| TransportError::Connect {
        host: String::from("(session)"),
        addr: String::new(),
        reason: e.to_string(),
    };
    let mut channel = handle.channel_open_session().await.map_err(err)?;
    channel.exec(true, line).await.map_err(err)?;
    if !input.is_empty() {
        channel.data(input).await.map_err(err)?;
    }
    channel.eof().await.map_err(err)?;
    let mut out = CommandOutput {
        status: 255,
        ..CommandOutput::default()
    };
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => out.status = exit_status,
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Runs `argv` (each word quoted) on a logged-in session as its own exec channel, with this
/// process's stdin, stdout and stderr streamed through it (after asking for a pseudo-terminal
/// when `tty`); returns the remote exit status, 255 when the server sent none.
pub async fn run_streaming(
    handle: &Handle<Verifier>,
    host: &str,
    argv: &[String],
    tty: bool,
) -> Result<u32, TransportError> {
    let line = command_line(argv)?;
    let err = |e: russh::Error| TransportError::Connect {
        host: host.into(),
        addr: String::new(),
        reason: e.to_string(),
    };
    let channel = handle.channel_open_session().await.map_err(err)?;
    if tty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        let (cols, rows) = super::resize::window_size().unwrap_or((80, 24));
        channel
            .request_pty(true, &term, cols, rows, 0, 0, &[])
            .await
            .map_err(err)?;
    }
    channel.exec(true, line).await.map_err(err)?;
    let (mut read, write) = channel.split();
    let write = std::sync::Arc::new(write);
    // stdin is pumped until its end, then the remote side is told; the command may well exit
    // before that, and the caller does not wait for this task.
    let input = write.clone();
    tokio::spawn(async move {
        let _ = input.data(tokio::io::stdin()).await;
        let _ = input.eof().await;
    });
    if tty {
        tokio::spawn(super::resize::forward(write.clone()));
    }
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut status = 255;
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                let _ = stdout.write_all(&data).await;
                let _ = stdout.flush().await;
            }
            ChannelMsg::ExtendedData { data, .. } => {
                let _ = stderr.write_all(&data).await;
                let _ = stderr.flush().await;
            }
            ChannelMsg::ExitStatus { exit_status } => status = exit_status,
            ChannelMsg::ExitSignal { signal_name, .. } => {
                let _ = stderr
                    .write_all(
                        format!("fleet: the command was killed by {signal_name:?}\n").as_bytes(),
                    )
                    .await;
                status = 255;
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    Ok(status)
}

async fn authenticate(
    handle: &mut Handle<Verifier>,
    host: &str,
    target: &SshTarget,
) -> Result<(), TransportError> {
    let mut tried: Vec<String> = Vec::new();
    let files: Vec<PathBuf> = match &target.identity_file {
        Some(f) => vec![f.clone()],
        None => std::env::var_os("HOME")
            .map(|h| {
                ["id_ed25519", "id_ecdsa", "id_rsa"]
                    .iter()
                    .map(|n| PathBuf::from(&h).join(".ssh").join(n))
                    .filter(|p| p.exists())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let auth_err = |e: russh::Error| TransportError::Connect {
        host: host.into(),
        addr: format!("{}:{}", target.address, target.port),
        reason: format!("authentication failed: {e}"),
    };
    for file in files {
        let key = match load_secret_key(&file, None) {
            Ok(k) => k,
            Err(e) => {
                tried.push(format!("{} (unreadable: {e})", file.display()));
                continue;
            }
        };
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten()
        } else {
            None
        };
        let result = handle
            .authenticate_publickey(
                &target.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(auth_err)?;
        if result.success() {
            return Ok(());
        }
        tried.push(format!("{} (refused)", file.display()));
    }
    if let Ok(mut agent) = AgentClient::connect_env().await {
        let ids = agent.request_identities().await.unwrap_or_default();
        for id in ids {
            let AgentIdentity::PublicKey { key, comment } = id else {
                continue;
            };
            match handle
                .authenticate_publickey_with(&target.user, key, None, &mut agent)
                .await
            {
                Ok(r) if r.success() => return Ok(()),
                _ => tried.push(format!("agent key {comment:?} (refused)")),
            }
        }
    }
    Err(TransportError::Auth {
        host: host.into(),
        user: target.user.clone(),
        tried: if tried.is_empty() {
            "no key found (set identity_file, or create ~/.ssh/id_ed25519)".into()
        } else {
            tried.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_words_and_wraps_the_rest() {
        let q = |w: &str| shell_quote(w).unwrap();
        assert_eq!(q("/usr/local/bin/fleet-node"), "/usr/local/bin/fleet-node");
        assert_eq!(q("--root"), "--root");
        assert_eq!(q(""), "''");
        assert_eq!(q("a b"), "'a b'");
        assert_eq!(q("it's"), r"'it'\''s'");
        assert_eq!(q("$(rm -rf /)"), "'$(rm -rf /)'");
        assert!(shell_quote("a\0b").is_err());
    }

    #[test]
    fn quoted_words_reach_a_real_shell_unchanged() {
        let words: Vec<String> = [
            "plain",
            "two words",
            "it's",
            "$HOME",
            "`id`",
            "a;b|c&d",
            "\"dq\"",
            "back\\slash",
            "new\nline",
            "*",
            "",
            "~",
            "é",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
        argv.extend(words.iter().cloned());
        let line = command_line(&argv).unwrap();
        // The remote side runs the line through the login shell: do the same with sh.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .output()
            .unwrap();
        assert!(out.status.success());
        let got: Vec<String> = out
            .stdout
            .split(|&b| b == 0)
            .map(|w| String::from_utf8(w.to_vec()).unwrap())
            .collect();
        assert_eq!(&got[..words.len()], &words[..]);
    }
}
