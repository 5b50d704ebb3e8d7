//! What the VM tier needs on this machine, and what to say when something is missing.
//!
//! With `CI=true` a missing prerequisite fails the test (CI must never go green by skipping the
//! real-host tier); elsewhere the test prints why and returns. `scripts/test` installs every
//! package named here.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest kernel: Debian's cloud kernel installed on this machine
/// (`linux-image-cloud-amd64`), its initrd made by the package's hook, and its modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// `uname -r` inside the guest (`6.1.0-57-cloud-amd64`).
    pub release: String,
    /// The Debian package version (`6.1.192-3`), part of the image's cache key.
    pub package_version: String,
    /// `/boot/vmlinuz-<release>`.
    pub vmlinuz: PathBuf,
    /// `/boot/initrd.img-<release>`.
    pub initrd: PathBuf,
    /// `/lib/modules/<release>`, copied into the image.
    pub modules: PathBuf,
}

/// Programs the tier runs, with the Debian package that has each.
const PROGRAMS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("qemu-img", "qemu-utils"),
    ("mmdebstrap", "mmdebstrap"),
    ("mkfs.ext4", "e2fsprogs"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("setpriv", "util-linux"),
    ("objcopy", "binutils"),
];

/// Whether `program` is on PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The newest cloud kernel with its initrd and modules, or what is missing.
pub fn kernel() -> Result<Kernel, String> {
    let mut releases: Vec<String> = std::fs::read_dir("/boot")
        .map_err(|e| format!("cannot read /boot: {e}"))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let release = name.strip_prefix("vmlinuz-")?;
            release
                .ends_with("-cloud-amd64")
                .then(|| release.to_owned())
        })
        .collect();
    let Some(release) = newest(&mut releases) else {
        return Err("no Debian cloud kernel in /boot (vmlinuz-*-cloud-amd64)".into());
    };
    let kernel = Kernel {
        vmlinuz: PathBuf::from(format!("/boot/vmlinuz-{release}")),
        initrd: PathBuf::from(format!("/boot/initrd.img-{release}")),
        modules: PathBuf::from(format!("/lib/modules/{release}")),
        package_version: package_version(&format!("linux-image-{release}"))?,
        release,
    };
    for path in [&kernel.initrd, &kernel.modules] {
        if !path.exists() {
            return Err(format!(
                "{} is missing (reinstall linux-image-{})",
                path.display(),
                kernel.release
            ));
        }
    }
    Ok(kernel)
}

/// The newest of Debian kernel releases: they sort by their numbers (6.1.0-57 is after 6.1.0-9).
fn newest(releases: &mut [String]) -> Option<String> {
    releases.sort_by_key(|r| {
        r.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .collect::<Vec<_>>()
    });
    releases.last().cloned()
}

fn package_version(package: &str) -> Result<String, String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || version.is_empty() {
        return Err(format!("package {package} is not installed"));
    }
    Ok(version)
}

/// Everything missing for the VM tier, each with how to get it; empty when ready.
pub fn missing() -> Vec<String> {
    let mut out = Vec::new();
    let mut packages = Vec::new();
    for (program, package) in PROGRAMS {
        if !on_path(program) {
            out.push(format!("{program} (package {package})"));
            if !packages.contains(package) {
                packages.push(*package);
            }
        }
    }
    if let Err(why) = kernel() {
        out.push(format!("the guest kernel: {why}"));
        packages.push("linux-image-cloud-amd64");
    }
    if !is_root() {
        out.push("root (mmdebstrap and the image's file owners need it)".into());
    }
    if !packages.is_empty() {
        out.push(format!(
            "install with: apt-get install --no-install-recommends {} (./scripts/test does this)",
            packages.join(" ")
        ));
    }
    for bin in [crate::bins::fleet(), crate::bins::fleet_node()] {
        if !bin.exists() {
            out.push(format!(
                "{} is not built (run `cargo build --bins`, or `cargo test --workspace`)",
                bin.display()
            ));
        }
    }
    out
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
            .unwrap_or(false)
    })
}

/// Returns true (after printing why) when a VM test should be skipped; with `CI=true` it panics
/// instead, naming what is missing and how to install it.
pub fn skip_unless_ready() -> bool {
    let missing = missing();
    if missing.is_empty() {
        return false;
    }
    let why = format!(
        "the VM tier cannot run here; missing:\n  - {}",
        missing.join("\n  - ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}\n(CI=true: the VM tier fails rather than skips)");
    }
    eprintln!("skipped: {why}");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_kernel_is_found_by_its_numbers() {
        let mut r: Vec<String> = [
            "6.1.0-9-cloud-amd64",
            "6.1.0-57-cloud-amd64",
            "6.1.0-10-cloud-amd64",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(newest(&mut r).as_deref(), Some("6.1.0-57-cloud-amd64"));
        assert_eq!(newest(&mut []), None);
    }
}
