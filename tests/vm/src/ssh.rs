//! The harness's own SSH client to a VM: OpenSSH's `ssh`, independent of the russh client under
//! test, with the VM's host key pinned in a known_hosts file and `StrictHostKeyChecking=yes`
//! (never accept-any).
//!
//! One master connection per VM (`ssh -M`, a child process killed by its PID on drop) carries
//! every check as a new channel: a fresh SSH handshake costs the TCG-emulated guest seconds.
//! When the master is gone (the VM rebooted) a command makes its own connection. Commands are
//! argv lists; each word is quoted by fleet's `shell_quote` for the remote shell.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How to reach one VM's sshd.
#[derive(Debug)]
pub struct Ssh {
    /// Forwarded port on 127.0.0.1.
    pub port: u16,
    /// Client private key.
    pub identity: PathBuf,
    /// known_hosts holding only this VM's key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    control: PathBuf,
    master: Option<Child>,
}

/// Joins argv into one remote command line, each word quoted.
pub fn command_line(argv: &[&str]) -> String {
    let owned: Vec<String> = argv.iter().map(|w| (*w).to_owned()).collect();
    fleet::transport::ssh::command_line(&owned).expect("no NUL in a test command")
}

impl Ssh {
    /// A client for `127.0.0.1:port`; `control` is the master's socket path (short: sockets
    /// paths are limited to 108 bytes).
    pub fn new(port: u16, identity: PathBuf, known_hosts: PathBuf, control: PathBuf) -> Ssh {
        Ssh {
            port,
            identity,
            known_hosts,
            control,
            master: None,
        }
    }

    /// `ssh` with this VM's options (and no user or system configuration).
    pub fn command(&self) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F").arg("/dev/null");
        c.arg("-i").arg(&self.identity);
        c.arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()));
        c.arg("-o")
            .arg(format!("ControlPath={}", self.control.display()));
        for opt in [
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "ConnectTimeout=30",
            "ServerAliveInterval=10",
            "ServerAliveCountMax=6",
            "LogLevel=ERROR",
        ] {
            c.arg("-o").arg(opt);
        }
        c.arg("-p").arg(self.port.to_string());
        c.arg("-l").arg("root");
        c
    }

    /// Opens the master connection; waits until its socket exists.
    pub fn start_master(&mut self, timeout: Duration) -> Result<(), String> {
        self.stop_master();
        let _ = std::fs::remove_file(&self.control);
        let mut cmd = self.command();
        cmd.args(["-M", "-N", "-o", "ControlPersist=no", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
        let deadline = Instant::now() + timeout;
        while !self.control.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    use std::io::Read as _;
                    let _ = s.read_to_string(&mut err);
                }
                return Err(format!("ssh master exited ({status}): {}", err.trim()));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("ssh master not up within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.master = Some(child);
        Ok(())
    }

    /// Ends the master connection (by its PID).
    pub fn stop_master(&mut self) {
        if let Some(mut child) = self.master.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.control);
    }

    /// Runs `argv` in the VM as root and returns its output.
    pub fn run(&self, argv: &[&str]) -> Output {
        self.run_with_input(argv, None)
    }

    /// [`Ssh::run`] with `input` on stdin.
    pub fn run_with_input(&self, argv: &[&str], input: Option<&Path>) -> Output {
        let mut cmd = self.command();
        cmd.arg("127.0.0.1").arg("--").arg(command_line(argv));
        match input {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
                cmd.stdin(file);
            }
            None => {
                cmd.stdin(Stdio::null());
            }
        }
        cmd.output().expect("run ssh")
    }

    /// Runs `argv`; panics with its output unless it succeeds. Returns stdout.
    #[track_caller]
    pub fn ok(&self, argv: &[&str]) -> String {
        let out = self.run(argv);
        assert!(
            out.status.success(),
            "in the VM on port {}: {:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.port,
            argv,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a shell script (a constant of the test, never built from spec values) with `sh -c`.
    #[track_caller]
    pub fn sh(&self, script: &str) -> String {
        self.ok(&["sh", "-c", script])
    }

    /// Copies the local file `from` to `to` in the VM with `mode`, creating its directory.
    #[track_caller]
    pub fn copy_in(&self, from: &Path, to: &str, mode: u32) {
        let script = "set -e; mkdir -p \"$(dirname \"$1\")\"; cat > \"$1\"; chmod \"$2\" \"$1\"";
        let mode = format!("{mode:o}");
        let out = self.run_with_input(&["sh", "-c", script, "copy-in", to, &mode], Some(from));
        assert!(
            out.status.success(),
            "copying {} to {to} failed: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        self.stop_master();
    }
}
