//! Installing a fleet-node binary on a host: over SSH the binary travels on the session's
//! channel into a temporary file beside its destination, its sha256 is checked on the host, and
//! only then is it renamed over the old one (atomic within a directory); for a local host the
//! same in the file system. `fleet bootstrap` calls [`install`] per host.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::ssh::{login, run_command};
use super::{ConnectOptions, TransportError};
use crate::model::{Host, Transport};

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

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Puts `binary` (whose sha256 is `digest`) at the host's node.path, unless it is there already.
pub async fn install(
    host: &Host,
    binary: &[u8],
    digest: &str,
    opts: &ConnectOptions,
) -> Result<Installed, String> {
    let dest = host.node.path.clone();
    match &host.transport {
        Transport::Local => install_local(Path::new(&dest), binary, digest),
        Transport::Ssh(target) => {
            let handle = login(&host.name, target, opts)
                .await
                .map_err(|e| e.to_string())?;
            let sh = |argv: &[&str]| argv.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let io = |e: TransportError| e.to_string();
            let current = run_command(&handle, &sh(&["sha256sum", &dest]), b"")
                .await
                .map_err(io)?;
            if current.status == 0 && first_word(&current.stdout) == digest {
                return Ok(Installed::UpToDate);
            }
            let tmp = format!("{dest}.fleet-new");
            let argv = sh(&["sh", "-c", RECEIVE, "fleet-bootstrap", &dest, &tmp]);
            let sent = run_command(&handle, &argv, binary).await.map_err(io)?;
            if sent.status != 0 {
                return Err(format!(
                    "writing {tmp} failed (status {}): {}",
                    sent.status,
                    String::from_utf8_lossy(&sent.stderr).trim()
                ));
            }
            let got = first_word(&sent.stdout);
            if got != digest {
                let _ = run_command(&handle, &sh(&["rm", "-f", &tmp]), b"").await;
                return Err(format!(
                    "the copy at {tmp} has sha256 {got}, expected {digest}; nothing was replaced"
                ));
            }
            let moved = run_command(&handle, &sh(&["mv", "-f", &tmp, &dest]), b"")
                .await
                .map_err(io)?;
            if moved.status != 0 {
                return Err(format!(
                    "renaming {tmp} to {dest} failed: {}",
                    String::from_utf8_lossy(&moved.stderr).trim()
                ));
            }
            Ok(Installed::Written)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
