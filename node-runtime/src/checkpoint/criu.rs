//! Finding the CRIU binary and asking it what it can do: a configured path (`--criu`,
//! `$FLEET_NODE_CRIU`) or `criu` on PATH, its version (`criu --version`), and whether `criu check`
//! passes on this kernel. Debian 12's 3.17.1 is found but fails the check on kernel 6.18
//! (docs/decisions.md, "CRIU"), so presence alone is not enough.
//!
//! Neighbours: the hello reports [`Probe`] and [`dirty_tracking`]; `dump.rs`, `pre_dump.rs` and
//! `restore.rs` run the binary found here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Environment variable naming the criu binary (for nodes the orchestrator starts over SSH,
/// where no flag is passed); `--criu` wins over it.
pub const CRIU_ENV: &str = "FLEET_NODE_CRIU";

/// What the node found out about CRIU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A criu that passes `criu check`.
    Works {
        /// The binary.
        path: PathBuf,
        /// Its version (`4.2`).
        version: String,
    },
    /// A criu exists but cannot be used here.
    Fails {
        /// The binary.
        path: PathBuf,
        /// Its version, when it says.
        version: Option<String>,
        /// The last line `criu check` printed, or why it could not run.
        why: String,
    },
    /// No criu: none configured and none on PATH.
    Missing,
}

impl Probe {
    /// The usable binary, if any.
    pub fn usable(&self) -> Option<&Path> {
        match self {
            Probe::Works { path, .. } => Some(path),
            _ => None,
        }
    }

    /// A sentence for the hello's notes when CRIU cannot be used (so a plan can say why a move
    /// is cold); `None` when it works.
    pub fn note(&self) -> Option<String> {
        match self {
            Probe::Works { .. } => None,
            Probe::Fails { path, why, version } => Some(format!(
                "criu: {} (version {}) fails `criu check`: {why}; checkpoint and live moves \
                 need a working criu (CRIU 4.2 works on kernel 6.18)",
                path.display(),
                version.as_deref().unwrap_or("unknown"),
            )),
            Probe::Missing => Some(format!(
                "criu: not found on PATH (nor ${CRIU_ENV}, --criu); checkpoint and live moves \
                 need it"
            )),
        }
    }
}

/// The binary to use: `configured` when given, else the first `criu` on PATH.
pub fn locate(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("criu"))
        .find(|candidate| is_executable(candidate))
}

/// What [`probe`] and [`dirty_tracking`] found, by binary: each runs once per node process (a
/// node lives for one session or one command). A live move asked twice more after the hello,
/// once on each side, and each `criu check` is 35-60 ms of the move's downtime
/// (docs/reconciler.md, "Known gaps").
static PROBED: Mutex<Vec<(Option<PathBuf>, Probe)>> = Mutex::new(Vec::new());
static DIRTY_TRACKING: Mutex<Vec<(PathBuf, Result<(), String>)>> = Mutex::new(Vec::new());

/// `answer` for `key` as `cache` remembers it, asked (and remembered) the first time.
fn remembered<K: PartialEq, V: Clone>(
    cache: &Mutex<Vec<(K, V)>>,
    key: K,
    answer: impl FnOnce() -> V,
) -> V {
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, known)) = cache.iter().find(|(k, _)| *k == key) {
        return known.clone();
    }
    let found = answer();
    cache.push((key, found.clone()));
    found
}

/// Finds criu and runs `criu check` (35-300 ms), once per process for each `configured`.
pub fn probe(configured: Option<&Path>) -> Probe {
    remembered(&PROBED, configured.map(Path::to_path_buf), || {
        probe_now(configured)
    })
}

fn probe_now(configured: Option<&Path>) -> Probe {
    let Some(path) = locate(configured) else {
        return Probe::Missing;
    };
    if !is_executable(&path) {
        return Probe::Fails {
            why: "not an executable file".to_owned(),
            path,
            version: None,
        };
    }
    let version = version(&path);
    match Command::new(&path)
        .arg("check")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Probe::Works {
            path,
            version: version.unwrap_or_else(|| "unknown".to_owned()),
        },
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let why = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output")
                .trim()
                .to_owned();
            Probe::Fails { path, version, why }
        }
        Err(e) => Probe::Fails {
            why: format!("cannot run it: {e}"),
            path,
            version,
        },
    }
}

/// Whether `criu` can track the pages a task dirties (soft-dirty bits): `criu check --feature
/// mem_dirty_track`, which pre-dumps need. `Err` holds why not, in CRIU's words. Asked once per
/// process for each binary.
pub fn dirty_tracking(criu: &Path) -> Result<(), String> {
    remembered(&DIRTY_TRACKING, criu.to_path_buf(), || {
        dirty_tracking_now(criu)
    })
}

fn dirty_tracking_now(criu: &Path) -> Result<(), String> {
    let out = Command::new(criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", criu.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim();
    Err(format!(
        "this kernel has no memory dirty tracking for CRIU (`criu check --feature \
         mem_dirty_track`: {last})"
    ))
}

/// `criu --version` prints `Version: 4.2` (and `GitID: ...` for git builds).
pub fn version(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines_are_read() {
        assert_eq!(parse_version("Version: 4.2\n").as_deref(), Some("4.2"));
        assert_eq!(
            parse_version("Version: 3.17.1\nGitID: v3.17.1\n").as_deref(),
            Some("3.17.1")
        );
        assert_eq!(parse_version("criu: unknown option\n"), None);
    }

    #[test]
    fn a_configured_path_that_is_missing_is_reported_not_searched_past() {
        let probe = probe(Some(Path::new("/nonexistent/criu")));
        match &probe {
            Probe::Fails { path, why, .. } => {
                assert_eq!(path, Path::new("/nonexistent/criu"));
                assert!(why.contains("not an executable"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(probe.note().unwrap().contains("/nonexistent/criu"));
    }

    #[test]
    fn criu_is_run_once_per_process_however_often_it_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let fake = dir.path().join("criu");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$@\" >> {}\n[ \"$1\" = --version ] && echo 'Version: 4.2'\n\
                 echo 'Looks good.'\n",
                runs.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A test forking meanwhile may hold the script's write descriptor for a moment
        // (ETXTBSY): wait until it runs, then count from nothing.
        while Command::new(&fake).output().is_err() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::remove_file(&runs).unwrap();
        for _ in 0..3 {
            assert_eq!(
                probe(Some(&fake)),
                Probe::Works {
                    path: fake.clone(),
                    version: "4.2".into()
                }
            );
            assert_eq!(dirty_tracking(&fake), Ok(()));
        }
        let lines = std::fs::read_to_string(&runs).unwrap();
        assert_eq!(
            lines, "--version\ncheck\ncheck --feature mem_dirty_track\n",
            "each question once"
        );
    }
}
