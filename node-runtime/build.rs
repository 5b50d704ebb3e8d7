//! Builds `fleet-init` (src/init/program.rs), the builtin PID 1 that fleet-node embeds and binds
//! into containers, as a small static program with the same rustc: static because a container
//! (busybox, a tarball) may have no C library at all. Std only, no crates, so one rustc call.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "src/init/program.rs";
    for path in [
        src,
        "src/init/console.rs",
        "src/init/report.rs",
        "src/sys/init_ffi.rs",
    ] {
        println!("cargo::rerun-if-changed={path}");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("fleet-init");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = std::env::var("TARGET").expect("TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-name",
            "fleet_init",
            "--crate-type",
            "bin",
        ])
        .args(["--target", &target])
        .args([
            "-C",
            "target-feature=+crt-static",
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
        ])
        .args([
            "-C",
            "codegen-units=1",
            "-C",
            "strip=symbols",
            "-D",
            "warnings",
        ])
        // Not position-independent: nothing to relocate at start, so 16 KiB less private
        // memory in every container (60 KiB of anonymous memory instead of 76).
        .args(["-C", "relocation-model=static"])
        .arg("-o")
        .arg(&out)
        .arg(src)
        .status()
        .expect("run rustc for fleet-init");
    assert!(status.success(), "building fleet-init failed");
    let bytes = std::fs::read(&out).expect("read fleet-init");
    // FNV-1a: a name per build of the program, so two fleet-node versions never share a file.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    println!("cargo::rustc-env=FLEET_INIT_HASH={hash:016x}");
}
