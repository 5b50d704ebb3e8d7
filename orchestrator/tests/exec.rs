//! `fleet exec NAME -- CMD...` end to end with the real fleet-node: through `transport: local`
//! and over a real sshd. The command runs inside the container's PID namespace (PID 1 there is
//! the container's init, so the exec'd shell's `$$` is 2, not 1), words with spaces and quotes
//! arrive unchanged, stdin is streamed in, stderr comes back, and the command's exit status is
//! fleet's. Over sshd also `fleet logs`, the other per-container stream: `--follow` delivers
//! what the container writes after it began, with `--timestamps`, and Ctrl-C ends the follower
//! on the host.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::fleetctl::{Cleanup, LocalFleet, expect, write_spec_yaml};
use support::sshd::{Cluster, unique};

/// Runs `fleet exec -f spec name -- command...` with `input` on stdin.
fn exec(spec: &std::path::Path, name: &str, command: &[&str], input: &str) -> Output {
    let mut args = vec!["exec", "-f", spec.to_str().unwrap(), name, "--"];
    args.extend_from_slice(command);
    support::fleetctl::run_with_input(&args, input.as_bytes())
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
    let Some(local) = LocalFleet::new(
        "exec",
        "  - name: c\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: here\n",
    ) else {
        return;
    };
    let spec = &local.spec;
    expect("apply", spec, &[], 0);
    check_exec(spec, "c");
}

#[test]
fn exec_runs_in_the_container_over_ssh() {
    let Some(cluster) = Cluster::start_if_ready(1) else {
        return;
    };
    let fleet = format!("exec-ssh-{}", unique());
    let spec = write_spec_yaml(
        &cluster,
        "ssh.yaml",
        &fleet,
        "  - name: x-01\n    template: busybox\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: node-0\n    resources: {memory: 32Mi, cpu: {limit: 5%}}\n  \
         - name: ticker\n    template: busybox\n    host: node-0\n    resources: {memory: 32Mi}\n    \
         command: [\"/bin/sh\", \"-c\", \"echo hello; while :; do echo tick; sleep 1; done\"]\n",
    );
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    expect("apply", &spec, &[], 0);
    check_exec(&spec, "x-01");
    follow_logs(&cluster, &spec);
}

/// UTC now to the second, as the node's stamps begin (`YYYY-MM-DDTHH:MM:SS`).
fn utc_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The `fleet-node logs --follow` processes of this cluster's node-0 (found by its root, which
/// no other test shares).
fn followers(cluster: &Cluster) -> Vec<u32> {
    let root = cluster.dir.path().join("node-0").display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.contains(&root)
            && args.iter().any(|a| a == "logs")
            && args.iter().any(|a| a == "--follow")
        {
            found.push(pid);
        }
    }
    found
}

/// `fleet logs --follow --tail 1 --timestamps` over sshd: the last line, stamped with a bound,
/// then a line written after the follow began, until Ctrl-C, which leaves no follower on the
/// host; a name the spec does not have refused.
fn follow_logs(cluster: &Cluster, spec: &std::path::Path) {
    let began = utc_now();
    let spec = spec.to_str().unwrap();
    let mut child = support::fleetctl::spawn(&[
        "logs",
        "-f",
        spec,
        "ticker",
        "--follow",
        "--tail",
        "1",
        "--timestamps",
    ]);
    let rx = support::fleetctl::stdout_lines(&mut child);
    // The last line already in the log comes first, stamped with a bound (the log's last write):
    // the log keeps no time per line.
    let backlog = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    assert!(
        backlog.starts_with("<=20")
            && (backlog.ends_with("Z tick") || backlog.ends_with("Z hello")),
        "{backlog}"
    );
    // The next was written after the follow began (the container ticks once a second), stamped
    // with when the node read it. One is enough here: cli_local.rs follows two locally.
    {
        let line = rx.recv_timeout(Duration::from_secs(60));
        let Ok(line) = line else {
            let _ = child.kill();
            panic!("no followed line over ssh: {:?}", child.wait_with_output());
        };
        let (stamp, text) = line.split_once(' ').unwrap_or_default();
        assert_eq!(text, "tick", "{line}");
        assert!(
            stamp.len() == 24
                && stamp.ends_with('Z')
                && stamp[..19] >= *began
                && stamp[..19] <= *utc_now(),
            "stamp {stamp} not between {began} and now"
        );
    }
    let remote = followers(cluster);
    assert!(
        !remote.is_empty(),
        "fleet-node logs --follow runs on the host under sshd"
    );
    // Ctrl-C: SIGINT to fleet, as a terminal sends it.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "fleet logs --follow ignored Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = |pid: &u32| !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !remote.iter().all(gone) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        remote.iter().all(gone) && followers(cluster).is_empty(),
        "the follower outlived fleet logs on the host: {:?}",
        followers(cluster)
    );

    // A name the spec does not have: refused before any host is asked, with the closest name.
    let out = support::fleetctl::run(&["logs", "-f", spec, "tikcer"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the spec has no container named \"tikcer\" (did you mean \"ticker\"?)"),
        "{err}"
    );
}
