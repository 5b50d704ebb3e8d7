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

/// Whether `program` is in one of the `PATH`-style directory list `paths`.
fn on_path(paths: &std::ffi::OsStr, program: &str) -> bool {
    std::env::split_paths(paths).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The newest cloud kernel with its initrd and modules, or what is missing.
pub fn kernel() -> Result<Kernel, String> {
    kernel_in(Path::new("/boot"))
}

/// [`kernel`], looking in `boot` for the kernel images.
fn kernel_in(boot: &Path) -> Result<Kernel, String> {
    let mut releases: Vec<String> = std::fs::read_dir(boot)
        .map_err(|e| format!("cannot read {}: {e}", boot.display()))?
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
        return Err(format!(
            "no Debian cloud kernel in {} (vmlinuz-*-cloud-amd64)",
            boot.display()
        ));
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
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut out = missing_in(&path, Path::new("/boot"));
    if !is_root() {
        out.push("root (mmdebstrap and the image's file owners need it)".into());
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

/// The programs missing from `path` and the kernel missing from `boot`, then the one
/// `apt-get install` line that brings them all.
fn missing_in(path: &std::ffi::OsStr, boot: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut packages = Vec::new();
    for (program, package) in PROGRAMS {
        if !on_path(path, program) {
            out.push(format!("{program} (package {package})"));
            if !packages.contains(package) {
                packages.push(*package);
            }
        }
    }
    if let Some(why) = qemu_unusable(path) {
        out.push(why);
        packages.push("qemu-system-x86 qemu-system-common");
    }
    if let Err(why) = kernel_in(boot) {
        out.push(format!("the guest kernel: {why}"));
        packages.push("linux-image-cloud-amd64");
    }
    if !packages.is_empty() {
        out.push(format!(
            "install with: apt-get install --no-install-recommends {} (./scripts/test does this)",
            packages.join(" ")
        ));
    }
    out
}

/// What is wrong with the QEMU found on `path`, when one is there but cannot boot a VM: it
/// does not run (a library or its `qemu-system-common` out of step with it, as a backported
/// qemu-utils once left it here) or offers no TCG, the only accelerator that works here.
fn qemu_unusable(path: &std::ffi::OsStr) -> Option<String> {
    let qemu = std::env::split_paths(path)
        .map(|dir| dir.join("qemu-system-x86_64"))
        .find(|p| is_executable(p))?;
    let why = match Command::new(&qemu).args(["-accel", "help"]).output() {
        Err(e) => format!("cannot run: {e}"),
        Ok(out) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr);
            format!(
                "`-accel help` failed ({}): {}",
                out.status,
                err.lines().next().unwrap_or("no message")
            )
        }
        Ok(out)
            if !String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == "tcg") =>
        {
            "it offers no TCG accelerator (`-accel help`)".to_owned()
        }
        Ok(_) => return None,
    };
    Some(format!(
        "a usable {}: {why} (the package qemu-system-x86, with its qemu-system-common)",
        qemu.display()
    ))
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
    match verdict(&missing(), std::env::var("CI").as_deref() == Ok("true")) {
        Ok(skip) => skip,
        Err(why) => panic!("{why}"),
    }
}

/// Skip (`Ok(true)`, after printing why), run (`Ok(false)`), or fail under CI (`Err`).
fn verdict(missing: &[String], ci: bool) -> Result<bool, String> {
    if missing.is_empty() {
        return Ok(false);
    }
    let why = format!(
        "the VM tier cannot run here; missing:\n  - {}",
        missing.join("\n  - ")
    );
    if ci {
        return Err(format!(
            "{why}\n(CI=true: the VM tier fails rather than skips)"
        ));
    }
    eprintln!("skipped: {why}");
    Ok(true)
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

    #[test]
    fn a_host_without_qemu_or_kernel_is_told_what_to_install_and_fails_under_ci() {
        let empty = tempfile::tempdir().unwrap();
        let missing = missing_in(empty.path().as_os_str(), empty.path());
        let text = missing.join("\n");
        for want in [
            "qemu-system-x86_64 (package qemu-system-x86)",
            "qemu-img (package qemu-utils)",
            "mmdebstrap (package mmdebstrap)",
            "the guest kernel: no Debian cloud kernel in",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        let install = missing.last().unwrap();
        assert!(
            install.starts_with("install with: apt-get install --no-install-recommends qemu-system-x86 qemu-utils mmdebstrap")
                && install.ends_with("linux-image-cloud-amd64 (./scripts/test does this)"),
            "{install}"
        );
        let err = verdict(&missing, true).unwrap_err();
        assert!(
            err.contains("CI=true: the VM tier fails rather than skips"),
            "{err}"
        );
        assert!(err.contains("apt-get install"), "{err}");
        assert_eq!(verdict(&missing, false), Ok(true));
        assert_eq!(verdict(&[], true), Ok(false));
    }

    #[test]
    fn a_qemu_that_does_not_run_is_named_with_its_packages() {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let qemu = bin.path().join("qemu-system-x86_64");
        for (script, want) in [
            (
                "echo 'qemu-system-x86_64: error while loading shared libraries' >&2; exit 127",
                "`-accel help` failed (exit status: 127): qemu-system-x86_64: error while loading",
            ),
            (
                "echo 'Accelerators supported in QEMU binary:'; echo kvm",
                "it offers no TCG accelerator",
            ),
        ] {
            std::fs::write(&qemu, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&qemu, std::fs::Permissions::from_mode(0o755)).unwrap();
            let missing = missing_in(bin.path().as_os_str(), bin.path());
            let text = missing.join("\n");
            assert!(text.contains(want), "{want}: {text}");
            assert!(
                !text.contains("qemu-system-x86_64 (package"),
                "it is there: {text}"
            );
            assert!(
                missing
                    .last()
                    .unwrap()
                    .contains("qemu-system-x86 qemu-system-common"),
                "{text}"
            );
        }
        std::fs::write(&qemu, "#!/bin/sh\necho tcg\n").unwrap();
        assert_eq!(qemu_unusable(bin.path().as_os_str()), None);
    }

    #[test]
    fn a_kernel_without_its_modules_is_named() {
        let boot = tempfile::tempdir().unwrap();
        std::fs::write(boot.path().join("vmlinuz-0.0.0-1-cloud-amd64"), "").unwrap();
        let err = kernel_in(boot.path()).unwrap_err();
        // Either dpkg does not know the package, or the initrd or modules are missing.
        assert!(err.contains("linux-image-0.0.0-1-cloud-amd64"), "{err}");
    }
}
