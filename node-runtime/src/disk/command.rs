//! Runs the util-linux and e2fsprogs programs the disk module needs, with argv lists, turning a
//! failure into a [`DiskError::Command`] that carries the program's own stderr.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use super::DiskError;

/// Runs `program` with `args`, returning its stdout when it exits with status 0.
pub fn run<I, S>(program: &str, args: I) -> Result<String, DiskError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_accepting(program, args, &[0])
}

/// Runs `program`, taking any exit code in `ok` as success (e2fsck exits 1 after fixing
/// something harmless, such as a timestamp, which is not a failure).
pub fn run_accepting<I, S>(program: &str, args: I, ok: &[i32]) -> Result<String, DiskError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let shown = || {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let output = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DiskError::Command {
            program: program.to_string(),
            args: shown(),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    if !output.status.code().is_some_and(|c| ok.contains(&c)) {
        return Err(DiskError::Command {
            program: program.to_string(),
            args: shown(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
