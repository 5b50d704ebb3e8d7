//! The VMs' initramfs: the guest's static busybox, the few kernel modules the root disk needs,
//! and a ten-line `/init`, written as one uncompressed `newc` cpio archive (about 2 MB).
//!
//! Debian's own initrd (14 MB, compressed, with udev) only loads `virtio_pci` and `virtio_blk`
//! before it mounts the root (ext4 is built into the cloud kernel), yet unpacking and running it
//! took most of the kernel's 67-76 s of boot under TCG on a loaded machine (docs/decisions.md,
//! "VM test tier"). This one loads those modules with `insmod` in the order `modules.dep` gives,
//! mounts `/dev/vda` read-write and hands over to systemd with `switch_root`; a failure prints
//! what failed and ends PID 1, which the kernel reports as a panic that the harness sees on the
//! console at once.

use std::fs;
use std::path::Path;

/// The modules the root disk needs, beyond what the cloud kernel has built in.
const WANTED: &[&str] = &["virtio_pci", "virtio_blk"];

/// PID 1 of the initramfs. `$modules` is filled in at build time.
const INIT: &str = r#"#!/bin/busybox sh
b=/bin/busybox
fail() { echo "fleet-vm initramfs: $*" >&2; exit 1; }
$b mount -t devtmpfs dev /dev || fail "cannot mount /dev"
for m in $modules; do $b insmod /modules/$m.ko || fail "insmod $m failed"; done
n=0
while [ ! -b /dev/vda ]; do
    n=$((n + 1)); [ $n -le 600 ] || fail "no /dev/vda after 60 s"; $b usleep 100000
done
$b mount -t ext4 -o rw /dev/vda /root || fail "cannot mount /dev/vda"
$b mount -o move /dev /root/dev || fail "cannot move /dev"
exec $b switch_root /root /sbin/init
"#;

/// Writes the initramfs for the kernel whose modules are in `modules` (`/lib/modules/<release>`)
/// to `out`, with `busybox` (a static binary) as its only program.
pub fn write(modules: &Path, busybox: &Path, out: &Path) -> Result<(), String> {
    let order = load_order(modules)?;
    let mut cpio = Cpio::default();
    for dir in ["bin", "dev", "root", "modules"] {
        cpio.dir(dir);
    }
    let read = |p: &Path| fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    cpio.file("bin/busybox", 0o755, &read(busybox)?);
    let mut names = Vec::new();
    for path in &order {
        let file = Path::new(path);
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("odd module path {path}"))?;
        cpio.file(
            &format!("modules/{name}.ko"),
            0o644,
            &read(&modules.join(file))?,
        );
        names.push(name.to_owned());
    }
    let init = INIT.replacen("$modules", &names.join(" "), 1);
    cpio.file("init", 0o755, init.as_bytes());
    fs::write(out, cpio.finish()).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The module files (relative to the modules directory) to load, each after its dependencies.
fn load_order(modules: &Path) -> Result<Vec<String>, String> {
    let dep_file = modules.join("modules.dep");
    let deps = fs::read_to_string(&dep_file)
        .map_err(|e| format!("cannot read {}: {e}", dep_file.display()))?;
    order_from(&deps, WANTED)
}

/// [`load_order`] from a `modules.dep` text: a module's line lists all it needs, the one to
/// load first last (as modprobe reads it).
fn order_from(deps: &str, wanted: &[&str]) -> Result<Vec<String>, String> {
    let mut order: Vec<String> = Vec::new();
    for want in wanted {
        let line = deps
            .lines()
            .find(|l| {
                l.split_once(':').is_some_and(|(path, _)| {
                    Path::new(path).file_name().and_then(|n| n.to_str())
                        == Some(&format!("{want}.ko"))
                })
            })
            .ok_or_else(|| {
                format!("{want}.ko (uncompressed) is not in modules.dep: the initramfs needs it")
            })?;
        let (path, needs) = line.split_once(':').expect("found by its colon");
        for module in needs.split_whitespace().rev().chain([path]) {
            if !module.ends_with(".ko") {
                return Err(format!(
                    "{module} is compressed: the initramfs insmods plain .ko"
                ));
            }
            if !order.iter().any(|m| m == module) {
                order.push(module.to_owned());
            }
        }
    }
    Ok(order)
}

/// A `newc` ("070701") cpio archive, as the kernel unpacks an initramfs.
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    inode: u32,
}

impl Cpio {
    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040_755, &[]);
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100_000 | mode, data);
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.inode += 1;
        let nlink = if mode & 0o040_000 != 0 { 2 } else { 1 };
        let fields = [
            self.inode,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_come_after_what_they_need_once_each() {
        let deps = "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/drivers/virtio/virtio_ring.ko:\n\
             kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko \
             kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko \
             kernel/drivers/virtio/virtio_ring.ko\n\
             kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko \
             kernel/drivers/virtio/virtio_ring.ko\n";
        let order = order_from(deps, WANTED).unwrap();
        let names: Vec<&str> = order
            .iter()
            .map(|p| Path::new(p).file_stem().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "virtio_ring",
                "virtio",
                "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev",
                "virtio_pci",
                "virtio_blk"
            ]
        );
        let err = order_from("kernel/x/virtio_pci.ko.xz:\n", &["virtio_pci"]).unwrap_err();
        assert!(err.contains("virtio_pci.ko (uncompressed)"), "{err}");
    }

    #[test]
    fn the_archive_is_newc_with_a_trailer() {
        let mut c = Cpio::default();
        c.dir("bin");
        c.file("init", 0o755, b"#!/bin/sh\n");
        let out = c.finish();
        assert!(out.starts_with(b"070701"));
        assert_eq!(out.len() % 4, 0);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("init\0"), "{text}");
        assert!(text.contains("TRAILER!!!\0"), "{text}");
        // The file's header: mode 0100755 and its size, 10 bytes.
        assert!(text.contains("000081ed"), "{text}");
        assert!(text.contains("0000000a"), "{text}");
    }
}
