//! Container lifecycle against the real kernel, through the `fleet-node` binary: namespaces,
//! PID 1, hostname, template files, detachment, stop, destroy, exec, logs, restart, boot.

mod support;

use support::{Node, alive, busybox, ns_link, proc_status};

#[test]
fn init_has_its_own_namespaces_is_pid_1_and_sees_hostname_and_template() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox("web", &["--hostname", "web-01.test"], &[]));
    let pid = node.init_pid("web");
    for kind in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        assert_ne!(
            ns_link(&pid.to_string(), kind),
            ns_link("self", kind),
            "{kind} namespace is shared with the host"
        );
    }
    assert_eq!(
        proc_status(pid, "NSpid").split_whitespace().last(),
        Some("1")
    );
    // PID 1 is the builtin init (sleep is not an init), the command its child.
    let cmdline = node.exec("web", &["cat", "/proc/1/cmdline"]);
    assert!(cmdline.starts_with("/dev/fleet-init\0"), "{cmdline:?}");
    assert!(cmdline.ends_with("\0--\0sleep\0infinity\0"), "{cmdline:?}");
    assert_eq!(node.exec("web", &["hostname"]).trim(), "web-01.test");
    assert!(
        node.exec("web", &["cat", "/etc/passwd"])
            .contains("root:x:0:0")
    );
    assert!(node.exec("web", &["ls", "/bin"]).contains("busybox"));
    let ps = node.exec("web", &["ps"]);
    assert_eq!(
        ps.lines().count(),
        4,
        "only init, its command and the exec'd ps (plus header): {ps}"
    );
}

#[test]
fn container_outlives_the_fleet_node_process_that_started_it() {
    let Some(node) = Node::new() else { return };
    let pid = node.create_running("detached");
    let bin = std::fs::canonicalize(Node::bin()).unwrap();
    let mut cur = pid;
    while cur > 1 {
        let exe = std::fs::read_link(format!("/proc/{cur}/exe")).unwrap_or_default();
        assert_ne!(
            exe, bin,
            "fleet-node process {cur} is still an ancestor of init"
        );
        cur = proc_status(cur, "PPid").parse().unwrap();
    }
    let sid = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let sid: i32 = sid
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    let own_sid = nix::unistd::getsid(None).unwrap().as_raw();
    assert_ne!(
        sid, own_sid,
        "init must not be in the session of whoever ran fleet-node"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(alive(pid));
}

#[test]
fn stop_leaves_no_process_and_start_makes_a_new_init() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox(
        "busy",
        &[],
        &["sh", "-c", "sleep 1000 & sleep 1000 & wait"],
    ));
    let pid = node.init_pid("busy");
    let cg = node.runtime().cgroup("busy");
    assert!(cg.pids().len() >= 3, "init and two sleeps: {:?}", cg.pids());
    assert_eq!(
        node.ok(&["stop", "busy", "--timeout", "1"]).trim(),
        "busy: stopped"
    );
    assert!(!alive(pid));
    assert!(cg.pids().is_empty(), "left behind: {:?}", cg.pids());
    assert_eq!(node.status("busy")["state"], "stopped");
    assert_eq!(node.ok(&["stop", "busy"]).trim(), "busy: not running");
    node.ok(&["start", "busy"]);
    let again = node.init_pid("busy");
    assert_ne!(again, pid);
    node.ok(&["restart", "busy", "--timeout", "0"]);
    assert_ne!(node.init_pid("busy"), again);
}

#[test]
fn destroy_leaves_no_mount_cgroup_directory_or_process() {
    let Some(node) = Node::new() else { return };
    let pid = node.create_running("gone");
    let dirs = node.cgroup_dirs("gone");
    assert!(dirs.iter().all(|d| d.is_dir()));
    assert_eq!(node.ok(&["destroy", "gone"]).trim(), "gone: destroyed");
    assert!(!alive(pid));
    for d in &dirs {
        assert!(!d.exists(), "cgroup {} left", d.display());
    }
    assert!(!node.container_dir("gone").exists());
    assert!(!node.root.path().join("containers/gone.lock").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&node.root.path().display().to_string()));
    assert_eq!(node.ok(&["destroy", "gone"]).trim(), "gone: did not exist");
    assert!(node.ok(&["list", "-o", "json"]).trim() == "[]");
    // Issue 13, defect 7: the last container gone, its cgroup parent goes too, in every
    // controller; and a verb refused for a name that does not exist leaves no lock file.
    for d in &dirs {
        let parent = d.parent().unwrap();
        assert!(
            !parent.exists(),
            "empty cgroup parent {} left",
            parent.display()
        );
    }
    node.fails(&["start", "ghost"]);
    node.fails(&["stop", "ghost"]);
    let left = support::entry_names(&node.root.path().join("containers"));
    assert!(left.is_empty(), "refused verbs left {left:?}");
}

#[test]
fn exec_streams_stdio_and_passes_the_exit_code_through() {
    let Some(node) = Node::new() else { return };
    node.create("ex", &[]);
    let out = node.run_with_input(
        &[
            "exec",
            "ex",
            "--",
            "sh",
            "-c",
            "read line; echo got $line; echo oops >&2; exit 7",
        ],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    let cg = node.runtime().cgroup("ex");
    let inside = node.exec("ex", &["cat", "/proc/self/cgroup"]);
    assert!(
        inside.lines().all(|l| l.ends_with(":/")),
        "exec is in the container's cgroup namespace root: {inside}"
    );
    let missing = node.run(&["exec", "ex", "--", "no-such-program"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-program"));
    assert_eq!(
        cg.pids().len(),
        3,
        "exec'd processes are gone; init, its command and the console keeper remain"
    );
    node.ok(&["stop", "ex", "--timeout", "0"]);
    let stderr = node.fails(&["exec", "ex", "--", "true"]);
    assert!(stderr.contains("is not running"), "{stderr}");
}

#[test]
fn logs_hold_init_output_and_list_json_has_the_documented_fields() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox(
        "chatty",
        &[
            "--fleet",
            "demo",
            "--hostname",
            "chat",
            "--env",
            "GREETING=hi there",
        ],
        &[
            "sh",
            "-c",
            "echo $GREETING; echo to-stderr >&2; exec sleep 1000",
        ],
    ));
    let pid = node.init_pid("chatty");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = node.ok(&["logs", "chatty"]);
        if logs.contains("to-stderr") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        logs.contains("hi there\n") && logs.contains("to-stderr\n"),
        "{logs}"
    );
    let list: serde_json::Value = serde_json::from_str(&node.ok(&["list", "-o", "json"])).unwrap();
    let row = &list[0];
    assert_eq!(row["name"], "chatty");
    assert_eq!(row["fleet"], "demo");
    assert_eq!(row["state"], "running");
    assert_eq!(row["init_pid"], pid);
    assert_eq!(row["hostname"], "chat");
    assert_eq!(row["template"], "busybox");
    let text = node.ok(&["list"]);
    assert!(
        text.contains("chatty") && text.contains("running"),
        "{text}"
    );
}

#[test]
fn boot_starts_onboot_containers_only() {
    let Some(node) = Node::new() else { return };
    node.create("auto", &["--onboot"]);
    node.create("manual", &[]);
    node.ok(&["stop", "auto", "--timeout", "0"]);
    node.ok(&["stop", "manual", "--timeout", "0"]);
    let out = node.ok(&["boot"]);
    assert_eq!(out.trim(), "auto: started");
    assert_eq!(node.status("auto")["state"], "running");
    assert_eq!(node.status("manual")["state"], "stopped");
}

#[test]
fn host_template_shares_host_programs_read_only_with_private_etc() {
    let Some(node) = Node::new() else { return };
    node.ok(&[
        "create",
        "hosty",
        "--template",
        "host",
        "--hostname",
        "hosty",
    ]);
    let ls = node.exec("hosty", &["/bin/sh", "-c", "ls /usr/bin | wc -l"]);
    assert!(
        ls.trim().parse::<u32>().unwrap() > 10,
        "host programs visible"
    );
    let ro = node.run(&[
        "exec",
        "hosty",
        "--",
        "/bin/sh",
        "-c",
        "touch /usr/fleet-probe",
    ]);
    assert!(!ro.status.success(), "/usr must be read-only");
    node.exec(
        "hosty",
        &["/bin/sh", "-c", "echo private > /etc/fleet-probe"],
    );
    assert!(
        !std::path::Path::new("/etc/fleet-probe").exists(),
        "the host's /etc is untouched"
    );
    assert_eq!(
        node.exec("hosty", &["cat", "/etc/fleet-probe"]),
        "private\n"
    );
    assert_eq!(node.exec("hosty", &["cat", "/etc/hostname"]), "hosty\n");
    let bin = std::fs::canonicalize(Node::bin()).unwrap();
    let probe = node.run(&[
        "exec",
        "hosty",
        "--",
        "/bin/sh",
        "-c",
        &format!("test -s {}", bin.display()),
    ]);
    assert!(
        !probe.status.success(),
        "fleet-node binary must not be reachable inside"
    );
}

#[test]
fn update_with_restart_allowed_applies_a_new_hostname_and_without_it_changes_nothing() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox("upd", &["--hostname", "before"], &[]));
    let pid = node.init_pid("upd");
    let rt = node.runtime();
    let mut spec = rt.status("upd").unwrap().spec;
    spec.hostname = "after".into();
    let err = rt.update(&spec, false).unwrap_err();
    assert!(
        matches!(err, node_runtime::Error::NeedsRestart { .. }),
        "{err}"
    );
    assert_eq!(node.exec("upd", &["hostname"]).trim(), "before");
    assert_eq!(
        node.init_pid("upd"),
        pid,
        "refused update leaves init alone"
    );
    assert!(rt.update(&spec, true).unwrap());
    assert_eq!(node.exec("upd", &["hostname"]).trim(), "after");
    assert_ne!(node.init_pid("upd"), pid);
    assert!(
        !rt.update(&spec, true).unwrap(),
        "same spec again: nothing to do"
    );
}

#[test]
fn exec_with_a_tty_gets_a_terminal_of_the_containers_devpts() {
    let Some(node) = Node::new() else { return };
    node.create("term", &[]);
    let out = node.run_with_input(
        &["exec", "-t", "term", "--", "sh"],
        b"echo $((6*7)); tty; test -t 0 && echo stdin-is-a-tty; exit 5\n",
    );
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("42\r\n"), "{text}");
    assert!(
        text.contains("/dev/pts/0\r\n"),
        "the pty comes from the container's devpts: {text}"
    );
    assert!(text.contains("stdin-is-a-tty"), "{text}");
    let ptys = node.exec("term", &["ls", "/dev/pts"]);
    assert_eq!(
        ptys.trim(),
        "ptmx",
        "the pty is gone after the command: {ptys}"
    );
}

#[test]
fn exec_with_a_tty_passes_terminal_resizes_to_the_container() {
    // Issue 13, defect 10: a resize of the caller's terminal reaches the container's pty (the
    // command sees the new size), not only the size at the start.
    let Some(node) = Node::new() else { return };
    node.create("resize", &[]);
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let slave_path = nix::unistd::ttyname(&pty.slave).unwrap();
    // `setsid -c` makes the pty the caller's controlling terminal, as a shell's would be, so
    // that the kernel sends fleet-node SIGWINCH when it is resized.
    let mut cmd = std::process::Command::new("setsid");
    cmd.arg("-c").arg(Node::bin());
    cmd.arg("--root").arg(node.root.path());
    cmd.args([
        "--cgroup-parent",
        &node.parent,
        "exec",
        "-t",
        "resize",
        "--",
        "sh",
    ]);
    let mut child = cmd
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap())
        .spawn()
        .unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = String::new();
    let mut read_until = |master: &mut std::fs::File, want: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut buf = [0u8; 4096];
        while !seen.contains(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {want:?} in {seen:?}"
            );
            let n = std::io::Read::read(master, &mut buf).unwrap();
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    use std::io::Write;
    master.write_all(b"stty size; echo started\n").unwrap();
    read_until(&mut master, "24 80");
    read_until(&mut master, "started");
    let resized = std::process::Command::new("stty")
        .arg("-F")
        .arg(&slave_path)
        .args(["rows", "50", "cols", "132"])
        .status()
        .unwrap();
    assert!(resized.success());
    // The relay passes the size on when its SIGWINCH arrives; ask until the shell sees it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        master.write_all(b"stty size\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut probe = String::new();
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut master, &mut buf).unwrap();
        probe.push_str(&String::from_utf8_lossy(&buf[..n]));
        seen.push_str(&probe);
        if seen.contains("50 132") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container never saw the new size: {seen:?}"
        );
    }
    master.write_all(b"exit 0\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?} {seen:?}");
}
