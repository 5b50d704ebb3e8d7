//! The builtin init (PID 1 when the command is not an init) and the default task ceiling, in
//! real containers: orphans reaped, SIGTERM forwarded by `stop`, a missing command still fails
//! the create, the init's file unwritable from inside, and `pids.max` set with no limit given.

mod support;

use std::time::Duration;

use support::{Node, busybox};

/// Zombie children of the container's init (an exited task leaves its cgroup, so the cgroup
/// does not list them).
fn zombies(node: &Node, name: &str) -> Vec<i32> {
    let init = node.init_pid(name).to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            // A process may be gone between the listing and the read.
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            let field = |k: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()))
                    .unwrap_or_default()
            };
            field("PPid:") == init && field("State:").starts_with('Z')
        })
        .collect()
}

/// A command that double-forks: its grandchild is orphaned to PID 1, then exits.
const ORPHANS: &str = "sh -c 'sleep 0.2 &'; exec sleep 100000";

#[test]
fn orphans_are_reaped_by_the_builtin_init_and_not_without_it() {
    let Some(node) = Node::new() else { return };
    let create = |name: &str, init: &str| {
        node.ok(&busybox(name, &["--init", init], &["sh", "-c", ORPHANS]));
    };
    create("reaped", "auto");
    create("bare", "none");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(zombies(&node, "reaped"), Vec::<i32>::new());
    // The control: `sleep` as PID 1 never waits, so the orphan stays a zombie.
    assert_eq!(zombies(&node, "bare").len(), 1, "the test staged no orphan");
    assert_eq!(
        node.exec("bare", &["cat", "/proc/1/cmdline"]),
        format!("sleep\0100000\0"),
        "init: none runs the command as PID 1"
    );
}

#[test]
fn stop_forwards_sigterm_to_the_command_and_live_updates_keep_pid_1() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox(
        "term",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.1; done",
        ],
    ));
    let pid = node.init_pid("term");
    node.ok(&["set", "term", "--memory", "64Mi"]);
    assert_eq!(node.init_pid("term"), pid, "a live update changed PID 1");
    node.ok(&["stop", "term", "--timeout", "20"]);
    let log = std::fs::read_to_string(node.container_dir("term").join("console.log")).unwrap();
    assert!(
        log.contains("got-term"),
        "SIGTERM never reached the command: {log:?}"
    );
    assert!(node.runtime().cgroup("term").pids().is_empty());
}

#[test]
fn a_missing_command_still_fails_the_create_under_the_builtin_init() {
    let Some(node) = Node::new() else { return };
    let err = node.fails(&busybox("nocmd", &[], &["/no/such/program"]));
    assert!(err.contains("/no/such/program"), "{err}");
    assert!(
        !node.container_dir("nocmd").exists(),
        "a failed create left files"
    );
}

#[test]
fn the_builtin_init_cannot_be_written_from_inside() {
    let Some(node) = Node::new() else { return };
    node.create("ro", &[]);
    node.create("ropriv", &["--privileged"]);
    let installed: Vec<_> = std::fs::read_dir(node.root.path().join("init"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(installed.len(), 1, "{installed:?}");
    let before = std::fs::read(&installed[0]).unwrap();
    for name in ["ro", "ropriv"] {
        for attack in [
            "echo x > /proc/1/exe",
            "echo x >> /dev/fleet-init",
            "cp /bin/busybox /dev/fleet-init",
            "rm -f /dev/fleet-init && echo x > /dev/fleet-init",
            "mount -o remount,rw /dev/fleet-init",
        ] {
            let out = node.run(&["exec", name, "--", "sh", "-c", attack]);
            assert!(!out.status.success(), "{name}: `{attack}` succeeded");
        }
    }
    assert_eq!(std::fs::read(&installed[0]).unwrap(), before);
}

#[test]
fn a_container_without_limits_gets_the_default_pids_ceiling() {
    let Some(node) = Node::new() else { return };
    node.create("nolim", &[]);
    let cg = node.runtime().cgroup("nolim");
    let pids_max = || {
        let dir = cg
            .dirs()
            .into_iter()
            .find(|d| d.join("pids.max").exists())
            .expect("a pids controller");
        std::fs::read_to_string(dir.join("pids.max")).unwrap()
    };
    assert_eq!(pids_max().trim(), fleet_protocol::DEFAULT_PIDS.to_string());
    node.ok(&["set", "nolim", "--pids", "100"]);
    assert_eq!(pids_max().trim(), "100");
}

/// The attacker of the exe test: container root loops over every process's /proc/PID/exe
/// (skipping its own busybox and the read-only builtin init), opens each for writing, and
/// holds the others open read-only (as good as O_PATH: the check is the open of the link) to reopen them for writing through
/// /proc/self/fd while the host's fleet-node exec runs and after it exits. Every success is
/// logged; the host also checks the binary's bytes.
const EXE_ATTACKER: &str = r#"
: > /tmp/exe-attack.log
while [ ! -e /tmp/exe-attack.stop ]; do
  for d in /proc/[0-9]*; do
    [ "$d" = "/proc/$$" ] && continue
    [ "$d/exe" -ef /bin/busybox ] && continue
    [ "$d/exe" -ef /dev/fleet-init ] && continue
    if { printf PWNED >> "$d/exe"; } 2>/dev/null; then echo "direct $d" >> /tmp/exe-attack.log; fi
    # A failed redirection of `exec` ends the shell: the holder is a subshell.
    (
      exec 3< "$d/exe" || exit 0
      echo "held $d" >> /tmp/exe-attack.log
      i=0
      while [ $i -lt 50 ]; do
        if { printf PWNED >> /proc/self/fd/3; } 2>/dev/null; then
          echo "reopened $d" >> /tmp/exe-attack.log
          exit 0
        fi
        i=$((i + 1))
        sleep 0.01
      done
    ) 2>/dev/null
  done
done
echo done >> /tmp/exe-attack.log
"#;

/// CVE-2019-5736 against `fleet-node exec`: the exec's children are non-dumpable until they run
/// the container's command, and the command's `#!/proc/self/exe` (the classic move: the kernel
/// then runs the host's fleet-node binary inside the container, as container root) must not
/// give the container a writable handle on that binary. A privileged container (root is host
/// root: the case where the binary's owner and caps match) is the one at risk; the binary is a
/// copy in a temp dir, so a successful attack damages only the copy.
#[test]
fn exec_never_lets_the_container_open_the_fleet_node_binary_for_writing() {
    use std::os::unix::fs::PermissionsExt;
    let Some(node) = Node::new() else { return };
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("fleet-node");
    std::fs::copy(Node::bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::read(&bin).unwrap();
    let run = |args: &[&str]| node.command_of(&bin, args).output();
    node.ok(&busybox("exe", &["--privileged"], &["sleep", "100000"]));
    node.exec(
        "exe",
        &[
            "sh",
            "-c",
            "printf '#!/proc/self/exe\\n' > /bin/victim && chmod 755 /bin/victim",
        ],
    );
    let mut attacker = node
        .command(&["exec", "exe", "--", "sh", "-c", EXE_ATTACKER])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..24 {
        // The hashbang way in, and plain commands (the window before their exec).
        let argv: &[&str] = match i % 2 {
            0 => &["exec", "exe", "--", "/bin/victim"],
            _ => &["exec", "exe", "--", "true"],
        };
        // ETXTBSY here means the container holds the binary open for writing: the log says.
        let _ = run(argv);
    }
    // Let a held descriptor try again once no fleet-node process runs the binary.
    std::thread::sleep(Duration::from_millis(500));
    node.exec("exe", &["touch", "/tmp/exe-attack.stop"]);
    let _ = attacker.wait();
    let log = node.exec("exe", &["cat", "/tmp/exe-attack.log"]);
    eprintln!("attacker log:\n{log}");
    assert!(log.contains("done"), "the attacker did not finish: {log}");
    assert!(
        !log.contains("direct") && !log.contains("reopened"),
        "container root opened the fleet-node binary for writing:\n{log}"
    );
    assert!(
        std::fs::read(&bin).unwrap() == before,
        "the fleet-node binary changed (log:\n{log})"
    );
}
