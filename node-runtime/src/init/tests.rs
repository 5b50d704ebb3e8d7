//! The builtin init as a plain program (not PID 1: it makes itself the subreaper then): status
//! passed through, signals forwarded, orphans reaped. The container tests cover it as PID 1.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::*;

/// The embedded program, written out once per test.
struct Program {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn program() -> Program {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path()).unwrap();
    Program { _dir: dir, path }
}

/// Runs the program; retries while another test thread's fork briefly holds a write descriptor
/// of the fresh file (ETXTBSY).
fn run(p: &Program, args: &[&str]) -> std::process::Child {
    for _ in 0..100 {
        match Command::new(&p.path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other.unwrap(),
        }
    }
    panic!("the program stayed busy")
}

fn output(p: &Program, args: &[&str]) -> Output {
    run(p, args).wait_with_output().unwrap()
}

#[test]
fn the_commands_exit_status_is_passed_through() {
    let p = program();
    assert_eq!(
        output(&p, &["--", "/bin/sh", "-c", "exit 7"]).status.code(),
        Some(7)
    );
    // Killed by a signal: 128 + the signal, as a shell reports it.
    let out = output(&p, &["--", "/bin/sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(143));
    let out = output(&p, &["--", "/nonexistent/command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exec /nonexistent/command"));
}

#[test]
fn signals_are_forwarded_to_the_command() {
    let p = program();
    let child = run(
        &p,
        &[
            "--",
            "/bin/sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    let pid = child.id() as i32;
    let mut child = child;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got-term\n");
    assert_eq!(out.status.code(), Some(3), "{:?}", out.status.signal());
}

#[test]
fn orphans_are_reaped() {
    let p = program();
    // The command double-forks: `sleep 0.2` is orphaned and reparented to the init, then exits.
    let child = run(&p, &["--", "/bin/sh", "-c", "sh -c 'sleep 0.2 &'; sleep 5"]);
    let init = child.id() as i32;
    std::thread::sleep(Duration::from_millis(800));
    let zombies: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let after = stat.rsplit_once(')').map(|(_, a)| a.trim()).unwrap_or("");
            let mut f = after.split(' ');
            let state = f.next();
            let ppid: i32 = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            ppid == init && state == Some("Z")
        })
        .collect();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait_with_output();
    assert!(zombies.is_empty(), "zombies under the init: {zombies:?}");
}

#[test]
fn the_program_is_static_and_installed_once_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path()).unwrap();
    assert_eq!(install(dir.path()).unwrap(), path);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o555
    );
    // No program interpreter (an ELF PT_INTERP header): it runs in a container without a C
    // library.
    let elf = fs::read(&path).unwrap();
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    for i in 0..count {
        let at = phoff + i * size;
        let kind = u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        assert_ne!(kind, PT_INTERP, "fleet-init is dynamically linked");
    }
}
