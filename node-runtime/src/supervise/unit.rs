//! `fleet-node install-unit`: the shipped `fleet-node.service` (node-runtime/dist) rendered for
//! this node (this binary's path, its `--root`, `--cgroup-parent`, `--uid-pool` and
//! `--console-log-max`), written to
//! the systemd unit directory, enabled and (re)started. What `fleet bootstrap` runs on each host.
//!
//! The shipped file names the .deb's paths (`/usr/bin/fleet-node`, `/var/lib/fleet-node`); a
//! render replaces the program in `ExecStart=`/`ExecStop=` with this binary and its global flags,
//! and the root in `RequiresMountsFor=`. Values go into a unit file, whose lines systemd splits
//! and expands (`%`, `$`, quotes, `\`), so only plain path characters are accepted.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The unit as shipped (the .deb installs this file as is).
pub const SHIPPED: &str = include_str!("../../dist/fleet-node.service");
/// The unit's name.
pub const NAME: &str = "fleet-node.service";
/// The program the shipped unit runs.
const SHIPPED_PROGRAM: &str = "/usr/bin/fleet-node";

/// What the unit runs for this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The fleet-node binary.
    pub program: PathBuf,
    /// `--root`.
    pub root: PathBuf,
    /// `--cgroup-parent`.
    pub cgroup_parent: String,
    /// `--uid-pool`, when the node was given one.
    pub uid_pool: Option<String>,
    /// `--console-log-max` in bytes, when the node was given a bound other than the default:
    /// the supervisor restarts containers, and each start reads the bound again.
    pub console_log_max: Option<u64>,
}

/// The shipped unit with `settings` in place of the .deb's program and root.
pub fn render(settings: &Settings) -> Result<String> {
    let program = settings.program.to_string_lossy();
    let program = plain("the fleet-node binary's path", &program)?;
    let root = settings.root.to_string_lossy();
    let root = plain("--root", &root)?;
    let mut words = vec![program.to_owned()];
    words.extend(["--root".to_owned(), root.to_owned()]);
    words.extend([
        "--cgroup-parent".to_owned(),
        plain("--cgroup-parent", &settings.cgroup_parent)?.to_owned(),
    ]);
    if let Some(pool) = &settings.uid_pool {
        words.extend([
            "--uid-pool".to_owned(),
            plain("--uid-pool", pool)?.to_owned(),
        ]);
    }
    if let Some(max) = settings.console_log_max {
        words.extend(["--console-log-max".to_owned(), max.to_string()]);
    }
    let command = words.join(" ");
    let mut out = String::with_capacity(SHIPPED.len() + 128);
    for line in SHIPPED.lines() {
        let line = if let Some(rest) = line
            .strip_prefix("ExecStart=")
            .or_else(|| line.strip_prefix("ExecStop="))
        {
            let key = &line[..line.len() - rest.len()];
            let rest = rest
                .strip_prefix(SHIPPED_PROGRAM)
                .expect("the shipped unit runs /usr/bin/fleet-node");
            format!("{key}{command}{rest}")
        } else if line.starts_with("RequiresMountsFor=") {
            format!("RequiresMountsFor={root}")
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
    }
    // The shipped unit names the default root, the one the .deb's node uses.
    debug_assert!(SHIPPED.contains(crate::store::DEFAULT_ROOT));
    Ok(out)
}

/// `value` when it holds only characters a unit file takes literally.
fn plain<'a>(what: &str, value: &'a str) -> Result<&'a str> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@,".contains(&b));
    if ok {
        Ok(value)
    } else {
        Err(Error::Unit(format!(
            "{what} {value:?} cannot go into a systemd unit as is: use only letters, digits \
             and / . _ - + : @ , (no spaces, quotes, % or $)"
        )))
    }
}

/// Whether systemd runs this host (`sd_booted`'s test).
pub fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Writes the rendered unit into `dir` (atomically, 0644), reloads systemd, enables the unit and
/// restarts it (which starts it when it was not running; the restart of a running supervisor
/// leaves every container running). Returns the unit file's path.
pub fn install(settings: &Settings, dir: &Path) -> Result<PathBuf> {
    let path = write(settings, dir)?;
    for argv in [
        &["daemon-reload"][..],
        &["enable", NAME][..],
        &["restart", NAME][..],
    ] {
        systemctl(argv)?;
    }
    Ok(path)
}

/// Writes the rendered unit into `dir` through a fresh temp file renamed over the unit's name
/// (a link at either name is replaced, never followed); returns the unit file's path.
pub fn write(settings: &Settings, dir: &Path) -> Result<PathBuf> {
    let text = render(settings)?;
    std::fs::create_dir_all(dir).map_err(crate::error::io_err("create", dir))?;
    let path = dir.join(NAME);
    let tmp = dir.join(format!(".{NAME}.fleet-new"));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // A fresh file: whatever was left at the temp name (a link to another file included)
        // is removed, never written through.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(crate::error::io_err("remove", &tmp)(e));
            }
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(crate::error::io_err("create", &tmp))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(crate::error::io_err("write", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(crate::error::io_err("rename into", &path))?;
    Ok(path)
}

fn systemctl(args: &[&str]) -> Result<()> {
    let out = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(crate::error::io_err("run", "systemctl"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Unit(format!(
        "systemctl {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            program: "/usr/local/bin/fleet-node".into(),
            root: "/srv/node".into(),
            cgroup_parent: "fleet".into(),
            uid_pool: None,
            console_log_max: None,
        }
    }

    #[test]
    fn the_render_runs_this_binary_with_its_node_settings() {
        let unit = render(&settings()).unwrap();
        assert!(unit.contains(
            "\nExecStart=/usr/local/bin/fleet-node --root /srv/node --cgroup-parent fleet supervise --boot\n"
        ), "{unit}");
        assert!(unit.contains(
            "\nExecStop=/usr/local/bin/fleet-node --root /srv/node --cgroup-parent fleet stop --all --if-shutting-down --timeout 10\n"
        ), "{unit}");
        assert!(unit.contains("\nRequiresMountsFor=/srv/node\n"), "{unit}");
        assert!(!unit.contains("/usr/bin/fleet-node"), "{unit}");
        let pooled = render(&Settings {
            uid_pool: Some("200000-300000".into()),
            ..settings()
        })
        .unwrap();
        assert!(pooled.contains("--cgroup-parent fleet --uid-pool 200000-300000 supervise"));
        let bounded = render(&Settings {
            console_log_max: Some(16 << 20),
            ..settings()
        })
        .unwrap();
        assert!(
            bounded.contains(
                "\nExecStart=/usr/local/bin/fleet-node --root /srv/node --cgroup-parent fleet \
                 --console-log-max 16777216 supervise --boot\n"
            ),
            "{bounded}"
        );
    }

    #[test]
    fn values_systemd_would_expand_or_split_are_refused() {
        for root in ["/srv/my node", "/srv/%h", "/srv/$HOME", "/srv/\"x\"", ""] {
            let err = render(&Settings {
                root: root.into(),
                ..settings()
            })
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("cannot go into a systemd unit"),
                "{root}: {err}"
            );
        }
    }
}
