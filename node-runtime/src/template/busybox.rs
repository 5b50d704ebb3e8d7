//! The busybox template: a minimal tree around the host's static busybox, one symlink per applet.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result, io_err};

/// Fails with the package to install when the static busybox is missing.
pub fn check(busybox: &Path) -> Result<()> {
    if busybox.is_file() {
        Ok(())
    } else {
        Err(Error::BusyboxMissing(busybox.to_owned()))
    }
}

/// Builds the tree into `dir`: /bin/busybox, applet links in /bin, and the few /etc files that
/// make `id`, `ps` and a shell behave.
pub fn build(dir: &Path, busybox: &Path) -> Result<()> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).map_err(io_err("create directory", &bin))?;
    let target = bin.join("busybox");
    fs::copy(busybox, &target).map_err(io_err("copy busybox to", &target))?;
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(io_err("run", busybox))?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet.contains('/') || applet == "busybox" {
            continue;
        }
        let link = bin.join(applet);
        symlink("busybox", &link).map_err(io_err("create symlink", &link))?;
    }
    for link in ["sbin", "usr/bin", "usr/sbin"] {
        let path = dir.join(link);
        fs::create_dir_all(path.parent().expect("has parent"))
            .map_err(io_err("create directory", &path))?;
        let to = if link == "sbin" { "bin" } else { "../bin" };
        symlink(to, &path).map_err(io_err("create symlink", &path))?;
    }
    let etc = dir.join("etc");
    fs::create_dir_all(&etc).map_err(io_err("create directory", &etc))?;
    for (file, content) in [
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        ("group", "root:x:0:\nnogroup:x:65534:\n"),
        ("hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    ] {
        let path = etc.join(file);
        fs::write(&path, content).map_err(io_err("write", &path))?;
    }
    Ok(())
}
