//! `fleet exec NAME -- CMD...` end to end with the real fleet-node: through `transport: local`
//! and over a real sshd. The command runs inside the container's PID namespace (PID 1 there is
//! the container's init, so the exec'd shell's `$$` is 2, not 1), words with spaces and quotes
//! arrive unchanged, stdin is streamed in, stderr comes back, and the command's exit status is
//! fleet's.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::fleetctl::{Cleanup, Set, expect, fleet_bin, write_local_spec, write_spec};
use support::sshd::{Cluster, skip_unless_ready, unique};

/// Runs `fleet exec -f spec name -- command...` with `input` on stdin.
fn exec(spec: &std::path::Path, name: &str, command: &[&str], input: &str) -> Output {
    let mut child = Command::new(fleet_bin())
        .args(["exec", "-f", spec.to_str().unwrap(), name, "--"])
        .args(command)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The checks both transports must pass, against container `name` of `spec`.
fn check_exec(spec: &std::path::Path, name: &str) {
    // Inside the container's PID namespace: PID 1 there is the container's init, and the exec'd
    // shell gets a small PID of that namespace, not a host PID.
    let out = exec(
        spec,
        name,
        &[
            "/bin/sh",
            "-c",
            "echo $$; tr '\\0' ' ' < /proc/1/cmdline; exit 3",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = stdout.lines();
    let pid: u32 = lines.next().unwrap_or_default().parse().unwrap_or(0);
    assert!((2..10).contains(&pid), "{}", text(&out));
    // PID 1 is fleet-node's builtin init (sleep is not an init), with the command as its child.
    let init = lines.next().unwrap_or_default();
    assert!(
        init.starts_with("/dev/fleet-init ") && init.ends_with(" -- /bin/sleep 1000000 "),
        "{}",
        text(&out)
    );

    // Words with spaces and quotes arrive unchanged, stdin is streamed in, stderr comes back.
    let out = exec(
        spec,
        name,
        &["/bin/sh", "-c", "cat; echo \"it's $1\" >&2", "sh", "a b"],
        "from stdin\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from stdin\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "it's a b\n");

    let out = exec(spec, "no-such-container", &["/bin/true"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no container named no-such-container"),
        "{}",
        text(&out)
    );
}

#[test]
fn exec_runs_in_the_container_through_the_local_transport() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(0);
    let fleet = format!("exec-{}", unique());
    let (spec, _) = write_local_spec(
        &cluster,
        &fleet,
        "  - name: c\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: here\n",
    );
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    expect("apply", &spec, &[], 0);
    check_exec(&spec, "c");
}

#[test]
fn exec_runs_in_the_container_over_ssh() {
    if skip_unless_ready() {
        return;
    }
    let cluster = Cluster::start(1);
    let fleet = format!("exec-ssh-{}", unique());
    let spec = write_spec(
        &cluster,
        "ssh.yaml",
        &fleet,
        &[Set {
            prefix: "x".into(),
            count: 1,
            host: 0,
            memory: "32Mi".into(),
        }],
    );
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    expect("apply", &spec, &[], 0);
    check_exec(&spec, "x-01");
}
