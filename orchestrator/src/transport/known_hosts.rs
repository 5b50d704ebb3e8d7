//! Host key verification for the SSH transport: a key pinned in the spec, or a known_hosts file
//! (the user's, or one named in the spec). There is no "accept anything" mode.
//!
//! Called by `ssh` from russh's `check_server_key`. Reading known_hosts goes through russh's
//! helper (`russh::keys::known_hosts`), which matches plain and hashed (`|1|`) host names
//! but not wildcard patterns, negations or `@cert-authority`/`@revoked` markers: such lines never
//! match here (docs/reconciler.md says so). A host that has keys recorded, none of them the one
//! offered (whatever the algorithm), is treated as a changed key and refused, which is stricter
//! than the helper alone.

use std::path::{Path, PathBuf};

use russh::keys::known_hosts::known_host_keys_path;
use russh::keys::{HashAlg, PublicKey};

use crate::model::HostKeyPolicy;

/// Why a host key was refused, or could not be checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostKeyError {
    /// The key differs from the one pinned in the spec.
    #[error(
        "WARNING: host key of {host} has changed: it offered {offered} but the spec pins {pinned}; \
         refusing to connect (someone may be intercepting the connection, or the host was \
         reinstalled: check, then update the pinned key)"
    )]
    PinnedMismatch {
        /// Host name.
        host: String,
        /// Fingerprint offered.
        offered: String,
        /// Fingerprint pinned.
        pinned: String,
    },
    /// The pinned key in the spec does not parse.
    #[error("the host key pinned for {host} is not an OpenSSH public key ({key:?}): {reason}")]
    BadPin {
        /// Host name.
        host: String,
        /// The text pinned.
        key: String,
        /// Parser's reason.
        reason: String,
    },
    /// known_hosts holds another key for this host.
    #[error(
        "WARNING: host key of {host} ({addr}) has changed: it offered {offered}, which does not \
         match the key recorded at {path}:{line}; refusing to connect (someone may be \
         intercepting the connection, or the host was reinstalled: check, then remove the old \
         line)"
    )]
    Changed {
        /// Host name.
        host: String,
        /// Address as written in known_hosts.
        addr: String,
        /// Fingerprint offered.
        offered: String,
        /// known_hosts file.
        path: PathBuf,
        /// Line of the recorded key.
        line: usize,
    },
    /// The host is not in known_hosts and new keys are not accepted.
    #[error(
        "host key of {host} ({addr}) is unknown: {offered} is not in {path}; check the \
         fingerprint, then run again with --accept-new-host-keys to record it"
    )]
    Unknown {
        /// Host name.
        host: String,
        /// Address as written in known_hosts.
        addr: String,
        /// Fingerprint offered.
        offered: String,
        /// known_hosts file.
        path: PathBuf,
    },
    /// known_hosts could not be read or written.
    #[error("cannot use known_hosts file {path}: {reason}")]
    File {
        /// known_hosts file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// No known_hosts path was given and there is no home directory.
    #[error("no known_hosts file: HOME is not set and the spec names no known_hosts path")]
    NoHome,
}

/// What was decided about a key that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// It matched the pinned key or a known_hosts line.
    Known,
    /// It was unknown and has been recorded (`--accept-new-host-keys`).
    Recorded,
}

/// Parses a host key pinned in a spec (`ssh-ed25519 AAAA...`, an optional comment after it):
/// the one parser `fleet validate` and the connection both use, so a key validate accepts is a
/// key the connection can check.
pub fn parse_pin(key: &str) -> Result<PublicKey, String> {
    PublicKey::from_openssh(key.trim()).map_err(|e| e.to_string())
}

/// The SHA-256 fingerprint, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The user's known_hosts file.
pub fn user_known_hosts() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".ssh").join("known_hosts"))
}

/// A key a host presented, with where it was reached and whether an unknown one may be
/// recorded: what every check of a host key is given.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// Host name (as the spec names it).
    pub host: &'a str,
    /// Address connected to.
    pub addr: &'a str,
    /// Port connected to.
    pub port: u16,
    /// The key the host presented.
    pub key: &'a PublicKey,
    /// Record the key when the host is unknown (`--accept-new-host-keys`).
    pub accept_new: bool,
}

/// Checks the key of `offer` against `policy`.
pub fn verify(policy: &HostKeyPolicy, offer: &Offer) -> Result<Accepted, HostKeyError> {
    let Offer {
        host, key: offered, ..
    } = *offer;
    match policy {
        HostKeyPolicy::Pinned { key } => {
            let pinned = parse_pin(key).map_err(|reason| HostKeyError::BadPin {
                host: host.into(),
                key: key.clone(),
                reason,
            })?;
            if pinned.key_data() == offered.key_data() {
                Ok(Accepted::Known)
            } else {
                Err(HostKeyError::PinnedMismatch {
                    host: host.into(),
                    offered: fingerprint(offered),
                    pinned: fingerprint(&pinned),
                })
            }
        }
        HostKeyPolicy::KnownHosts { path } => {
            let path = match path {
                Some(p) => p.clone(),
                None => user_known_hosts().ok_or(HostKeyError::NoHome)?,
            };
            check_file(&path, offer)
        }
    }
}

fn check_file(path: &Path, offer: &Offer) -> Result<Accepted, HostKeyError> {
    let Offer {
        host,
        addr,
        port,
        key: offered,
        accept_new,
    } = *offer;
    let file_err = |reason: String| HostKeyError::File {
        path: path.to_path_buf(),
        reason,
    };
    let recorded = known_host_keys_path(addr, port, path).map_err(|e| file_err(e.to_string()))?;
    if recorded
        .iter()
        .any(|(_, k)| k.key_data() == offered.key_data())
    {
        return Ok(Accepted::Known);
    }
    let shown = if port == 22 {
        addr.to_string()
    } else {
        format!("[{addr}]:{port}")
    };
    if let Some((line, _)) = recorded.first() {
        return Err(HostKeyError::Changed {
            host: host.into(),
            addr: shown,
            offered: fingerprint(offered),
            path: path.to_path_buf(),
            line: *line,
        });
    }
    if !accept_new {
        return Err(HostKeyError::Unknown {
            host: host.into(),
            addr: shown,
            offered: fingerprint(offered),
            path: path.to_path_buf(),
        });
    }
    record(path, &shown, offered).map_err(|e| file_err(e.to_string()))?;
    Ok(Accepted::Recorded)
}

/// Appends `addr key` to known_hosts. russh's `learn_known_hosts_path` starts an empty file with
/// a blank line, which shifts every line number it reports later, so the line is written here.
fn record(path: &Path, addr: &str, key: &PublicKey) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let before = std::fs::read(path).unwrap_or_default();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let sep = if before.is_empty() || before.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    let line = format!("{sep}{addr} {}\n", key.to_openssh()?);
    file.write_all(line.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two fixed ed25519 public keys (made with ssh-keygen for these tests).
    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    /// `verify` for host `h` at 127.0.0.2:`port` offering `key`.
    fn check(
        policy: &HostKeyPolicy,
        port: u16,
        key: &str,
        accept_new: bool,
    ) -> Result<Accepted, HostKeyError> {
        let key = PublicKey::from_openssh(key).unwrap();
        let offer = Offer {
            host: "h",
            addr: "127.0.0.2",
            port,
            key: &key,
            accept_new,
        };
        verify(policy, &offer)
    }

    #[test]
    fn pinned_key_matches_and_mismatch_is_a_warning() {
        let policy = HostKeyPolicy::Pinned { key: KEY_A.into() };
        assert_eq!(check(&policy, 22, KEY_A, false), Ok(Accepted::Known));
        let err = check(&policy, 22, KEY_B, true).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("WARNING: host key of h has changed")
        );
    }

    #[test]
    fn unknown_is_refused_then_recorded_with_the_flag_then_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let policy = HostKeyPolicy::KnownHosts {
            path: Some(path.clone()),
        };
        let err = check(&policy, 2222, KEY_A, false).unwrap_err();
        assert!(matches!(err, HostKeyError::Unknown { .. }), "{err}");
        assert!(!path.exists(), "refusing must not write known_hosts");
        assert_eq!(check(&policy, 2222, KEY_A, true), Ok(Accepted::Recorded));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("[127.0.0.2]:2222 {KEY_A}\n"));
        assert_eq!(check(&policy, 2222, KEY_A, false), Ok(Accepted::Known));
        // Another key for the same address is a change, refused even with the flag.
        let err = check(&policy, 2222, KEY_B, true).unwrap_err();
        assert!(
            matches!(err, HostKeyError::Changed { line: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("has changed"));
        // Same address on another port is another host.
        assert!(matches!(
            check(&policy, 2223, KEY_B, false),
            Err(HostKeyError::Unknown { .. })
        ));
    }
}
