//! Installing a fleet-node binary on a host: the host's machine (`uname -m`) is checked against
//! the binary's first; over SSH the binary then travels on the session's channel into a
//! temporary file beside its destination, its sha256 is checked on the host, and only then is it
//! renamed over the old one (atomic within a directory); for a local host the same in the file
//! system. Then the installed binary is asked for its version, and over SSH it installs
//! fleet-node.service ([`super::unit`]). `fleet bootstrap` calls
//! [`install`] per host.

use std::path::Path;

use super::ConnectOptions;
use super::ssh::{CommandOutput, login, run_command};
use crate::model::{Host, Transport};
use crate::node_binary::{NodeBinary, check_machine, sha256_hex};

/// Writes stdin to $2 (creating $1's directory), makes it executable and prints its sha256. A
/// constant script: the paths arrive as quoted positional arguments, never inside the script.
const RECEIVE: &str = "set -e; mkdir -p \"$(dirname \"$1\")\"; umask 022; cat > \"$2\"; chmod 755 \"$2\"; sha256sum \"$2\"";

/// What happened on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The host already had this binary.
    UpToDate,
    /// The binary was written.
    Written,
}

/// One host's install: what happened, and what the installed binary says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Written or already there.
    pub outcome: Installed,
    /// `node.path --version` on the host (`fleet-node 0.1.0`).
    pub version: String,
    /// What installing fleet-node.service said (`super::unit`).
    pub unit: String,
}

/// Puts `binary` at the host's node.path, unless it is there already, after checking that the
/// host's machine is the binary's; then asks the installed binary for its version.
pub async fn install(
    host: &Host,
    binary: &NodeBinary,
    opts: &ConnectOptions,
) -> Result<Report, String> {
    let dest = host.node.path.clone();
    let digest = binary.sha256.as_str();
    match &host.transport {
        Transport::Local => {
            check_machine(&host.name, std::env::consts::ARCH, binary)?;
            let outcome = install_local(Path::new(&dest), &binary.bytes, digest)?;
            let program = super::local::sibling_or_path(&dest);
            let out = std::process::Command::new(&program)
                .arg("--version")
                .output()
                .map_err(|e| format!("cannot run {} --version: {e}", program.display()))?;
            let version = version_of(&dest, out.status.code().unwrap_or(255) as u32, &out.stdout)?;
            let unit = super::unit::LOCAL.to_owned();
            Ok(Report {
                outcome,
                version,
                unit,
            })
        }
        Transport::Ssh(target) => {
            let handle = login(&host.name, target, opts)
                .await
                .map_err(|e| e.to_string())?;
            let uname = run(&handle, &["uname", "-m"], b"").await?;
            if uname.status != 0 {
                return Err(failed("uname -m on the host", &uname));
            }
            check_machine(&host.name, first_word(&uname.stdout).as_str(), binary)?;
            let outcome = put(&handle, &dest, binary).await?;
            let asked = run(&handle, &[&dest, "--version"], b"").await?;
            let version = version_of(&dest, asked.status, &asked.stdout)?;
            let unit = super::unit::install_unit(&handle, &host.node).await?;
            Ok(Report {
                outcome,
                version,
                unit,
            })
        }
    }
}

/// The version line a fleet-node printed for `--version`, or why there is none.
fn version_of(dest: &str, status: u32, stdout: &[u8]) -> Result<String, String> {
    let line = String::from_utf8_lossy(stdout).trim().to_owned();
    if status != 0 || !line.starts_with("fleet-node ") {
        return Err(format!(
            "{dest} --version did not answer as fleet-node (status {status}): {line:?}"
        ));
    }
    Ok(line)
}

/// Writes `binary` at `dest` over a logged-in session unless its sha256 is there already.
async fn put(
    handle: &russh::client::Handle<super::ssh::Verifier>,
    dest: &str,
    binary: &NodeBinary,
) -> Result<Installed, String> {
    let digest = binary.sha256.as_str();
    let current = run(handle, &["sha256sum", dest], b"").await?;
    if current.status == 0 && first_word(&current.stdout) == digest {
        return Ok(Installed::UpToDate);
    }
    let tmp = format!("{dest}.fleet-new");
    let argv = ["sh", "-c", RECEIVE, "fleet-bootstrap", dest, &tmp];
    let sent = run(handle, &argv, &binary.bytes).await?;
    if sent.status != 0 {
        return Err(failed(&format!("writing {tmp}"), &sent));
    }
    let got = first_word(&sent.stdout);
    if got != digest {
        let _ = run(handle, &["rm", "-f", &tmp], b"").await;
        return Err(format!(
            "the copy at {tmp} has sha256 {got}, expected {digest}; nothing was replaced"
        ));
    }
    let moved = run(handle, &["mv", "-f", &tmp, dest], b"").await?;
    if moved.status != 0 {
        return Err(failed(&format!("renaming {tmp} to {dest}"), &moved));
    }
    Ok(Installed::Written)
}

/// Runs `argv` on the host of `handle` with `input` on its stdin.
async fn run(
    handle: &russh::client::Handle<super::ssh::Verifier>,
    argv: &[&str],
    input: &[u8],
) -> Result<CommandOutput, String> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    run_command(handle, &argv, input)
        .await
        .map_err(|e| e.to_string())
}

/// `what failed (status N): what it printed on stderr`.
fn failed(what: &str, out: &CommandOutput) -> String {
    format!(
        "{what} failed (status {}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn install_local(dest: &Path, binary: &[u8], digest: &str) -> Result<Installed, String> {
    if std::fs::read(dest).is_ok_and(|b| sha256_hex(&b) == digest) {
        return Ok(Installed::UpToDate);
    }
    let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", dest.display());
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory of", e))?;
    }
    let tmp = dest.with_extension("fleet-new");
    std::fs::write(&tmp, binary).map_err(|e| fail("cannot write beside", e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| fail("cannot make executable the copy of", e))?;
    std::fs::rename(&tmp, dest).map_err(|e| fail("cannot rename into", e))?;
    Ok(Installed::Written)
}

fn first_word(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
