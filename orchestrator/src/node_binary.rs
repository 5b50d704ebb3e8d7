//! The fleet-node binary `fleet bootstrap` sends, read once and checked before any host is
//! touched: an ELF executable for Linux, which machine it runs on (named as `uname -m` names
//! it, to compare with each host's), whether it needs a dynamic loader (a static one runs on
//! any host, whatever its C library), and its sha256, which the host's copy must match.
//!
//! Only the few ELF header fields needed are read, by offset (the ELF64 little-endian layout
//! of the System V ABI); no ELF crate for three fields.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A readable fleet-node binary.
#[derive(Debug, Clone)]
pub struct NodeBinary {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// The machine it runs on, as `uname -m` prints it (`x86_64`).
    pub machine: &'static str,
    /// Whether it asks for a program interpreter (linked against the build machine's C library).
    pub dynamic: bool,
}

/// Why a file cannot be sent as fleet-node.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    /// It cannot be read.
    #[error("cannot read the fleet-node binary {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is no 64-bit little-endian ELF executable, or for a machine fleet does not know.
    #[error("{path} is not a fleet-node binary: {why}")]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// ELF `e_machine` values and the names `uname -m` gives those machines.
const MACHINES: &[(u16, &str)] = &[
    (0x3e, "x86_64"),
    (0xb7, "aarch64"),
    (0xf3, "riscv64"),
    (0x15, "ppc64le"),
    (0x16, "s390x"),
];

/// ELF program header type of the interpreter request.
const PT_INTERP: u32 = 3;

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl NodeBinary {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<NodeBinary, BinaryError> {
        let bytes = std::fs::read(path).map_err(|source| BinaryError::Read {
            path: path.to_owned(),
            source,
        })?;
        let not_elf = |why: &str| BinaryError::NotElf {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        let (machine, dynamic) = inspect(&bytes).map_err(|why| not_elf(&why))?;
        Ok(NodeBinary {
            path: path.to_owned(),
            sha256: sha256_hex(&bytes),
            bytes,
            machine,
            dynamic,
        })
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The machine name and whether a program interpreter is requested.
fn inspect(b: &[u8]) -> Result<(&'static str, bool), String> {
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("no ELF header".into());
    }
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    // e_type: 2 executable, 3 shared object (PIE executables are type 3).
    if !matches!(u16_at(b, 16), Some(2 | 3)) {
        return Err("not an executable".into());
    }
    let e_machine = u16_at(b, 18).ok_or("truncated ELF header")?;
    let machine = MACHINES
        .iter()
        .find(|(m, _)| *m == e_machine)
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            format!("built for ELF machine {e_machine:#x}, which fleet does not know")
        })?;
    let truncated = || "truncated program headers".to_string();
    let phoff = u64_at(b, 32).ok_or_else(truncated)? as usize;
    let phentsize = u16_at(b, 54).ok_or_else(truncated)? as usize;
    let phnum = u16_at(b, 56).ok_or_else(truncated)? as usize;
    let mut dynamic = false;
    for i in 0..phnum {
        let at = phoff
            .checked_add(i.checked_mul(phentsize).ok_or_else(truncated)?)
            .ok_or_else(truncated)?;
        if u32_at(b, at).ok_or_else(truncated)? == PT_INTERP {
            dynamic = true;
        }
    }
    Ok((machine, dynamic))
}

/// The refusal for a host whose `uname -m` is not what the binary was built for.
pub fn check_machine(host: &str, host_machine: &str, binary: &NodeBinary) -> Result<(), String> {
    if host_machine == binary.machine {
        return Ok(());
    }
    Err(format!(
        "host {host} is {host_machine} (uname -m), but {} is built for {}: nothing was installed; \
         leave {host} out of this spec or pass --node-binary with a fleet-node built for {host_machine}",
        binary.path.display(),
        binary.machine
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 LE header with `phnum` program headers of the given types.
    fn elf(e_machine: u16, types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&3u16.to_le_bytes());
        b[18..20].copy_from_slice(&e_machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            b.extend(ph);
        }
        b
    }

    #[test]
    fn reads_machine_and_interpreter() {
        assert_eq!(inspect(&elf(0x3e, &[6, 1, 1])), Ok(("x86_64", false)));
        assert_eq!(inspect(&elf(0x3e, &[6, 3, 1])), Ok(("x86_64", true)));
        assert_eq!(inspect(&elf(0xb7, &[1])), Ok(("aarch64", false)));
    }

    #[test]
    fn refuses_what_is_not_a_known_elf_executable() {
        assert!(
            inspect(b"#!/bin/sh\n")
                .unwrap_err()
                .contains("no ELF header")
        );
        assert!(inspect(&elf(0x99, &[])).unwrap_err().contains("0x99"));
        let mut truncated = elf(0x3e, &[1, 1]);
        truncated.truncate(70);
        assert!(inspect(&truncated).unwrap_err().contains("truncated"));
    }

    #[test]
    fn the_running_test_binary_is_a_dynamic_elf_for_this_machine() {
        let exe = std::env::current_exe().unwrap();
        let b = NodeBinary::read(&exe).unwrap();
        assert_eq!(b.machine, std::env::consts::ARCH);
        assert!(b.dynamic, "test binaries link the C library dynamically");
    }

    #[test]
    fn a_host_of_another_machine_is_refused_naming_both() {
        let b = NodeBinary {
            path: "/tmp/fleet-node".into(),
            bytes: Vec::new(),
            sha256: String::new(),
            machine: "x86_64",
            dynamic: false,
        };
        assert!(check_machine("h1", "x86_64", &b).is_ok());
        let e = check_machine("pi", "aarch64", &b).unwrap_err();
        assert!(
            e.starts_with("host pi is aarch64 (uname -m), but /tmp/fleet-node is built for x86_64"),
            "{e}"
        );
    }

    #[test]
    fn sha256_matches_the_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
