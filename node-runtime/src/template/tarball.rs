//! Tarball templates: a tar or tar.gz on the host, checked against its sha256, unpacked by the
//! system's tar (which detects the compression).

use std::fs::File;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, io_err};

/// Checks the digest's syntax and that the file exists (the digest itself is checked at build).
pub fn check(path: &Path, sha256: &str) -> Result<()> {
    if sha256.len() != 64 || !sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(Error::BadDigest(sha256.to_owned()));
    }
    if !path.is_file() {
        return Err(io_err("read tarball template", path)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        )));
    }
    Ok(())
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io_err("open", path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_err("read", path))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Verifies the digest, then unpacks the tarball into `dir`.
pub fn build(dir: &Path, tarball: &Path, sha256: &str) -> Result<()> {
    let actual = sha256_file(tarball)?;
    if actual != sha256 {
        return Err(Error::ChecksumMismatch {
            path: tarball.to_owned(),
            expected: sha256.to_owned(),
            actual,
        });
    }
    super::run(
        "tar",
        &[
            "-x".as_ref(),
            "-f".as_ref(),
            tarball.as_os_str(),
            "-C".as_ref(),
            dir.as_os_str(),
        ],
    )
}
