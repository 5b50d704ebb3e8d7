//! The Debian package (scripts/build-deb), built from the binary under test and checked the
//! way an operator meets it: `dpkg-deb --info` and `--contents`, then `dpkg -i` into a Debian 11
//! root, where the installed fleet-node runs, its bash completion completes a verb, its man
//! pages render, the unit's stop (`stop --all`) stops a running container and `fleet-node boot` (the
//! unit's start) brings the onboot one back; `dpkg -r` leaves the containers' state alone.
//! systemd itself runs the unit in the VM tier.

use std::path::Path;
use std::process::Command;

use crate::command::stdout_of;
use crate::old_root;
use crate::support::{Node, alive};

/// `scripts/build-deb --binary <the binary under test> --out <dir>`; returns the .deb's path.
fn build_deb(out: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-deb");
    let stdout = stdout_of(
        "build-deb",
        Command::new(&script)
            .arg("--binary")
            .arg(Node::bin())
            .arg("--out")
            .arg(out),
    );
    stdout.trim().to_owned()
}

/// The package of the binary under test, built once per test process (both tests use it)
/// into `<target>/tmp/portability-deb/`.
fn deb_under_test() -> &'static str {
    static DEB: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DEB.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portability-deb");
        let _ = std::fs::remove_dir_all(&out);
        build_deb(&out)
    })
}

fn dpkg_deb(args: &[&str]) -> String {
    stdout_of(
        &format!("dpkg-deb {args:?}"),
        Command::new("dpkg-deb").args(args),
    )
}

#[test]
fn the_package_carries_the_static_binary_unit_completions_and_man_pages() {
    let Some(node) = crate::node() else { return };
    let deb = deb_under_test();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        deb.ends_with(&format!("fleet-node_{version}_amd64.deb")),
        "{deb}"
    );

    let info = dpkg_deb(&["--info", deb]);
    for field in [
        "Package: fleet-node".to_owned(),
        format!("Version: {version}"),
        "Architecture: amd64".to_owned(),
        "Depends: mount, e2fsprogs".to_owned(),
    ] {
        assert!(info.contains(&field), "{field} missing:\n{info}");
    }
    for script in ["postinst", "prerm", "postrm", "md5sums"] {
        assert!(info.contains(script), "no {script}:\n{info}");
    }

    let contents = dpkg_deb(&["--contents", deb]);
    let entry = |path: &str| {
        contents
            .lines()
            .find(|l| l.ends_with(&format!(" ./{path}")))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{contents}"))
            .to_owned()
    };
    let binary = entry("usr/bin/fleet-node");
    assert!(binary.starts_with("-rwxr-xr-x root/root"), "{binary}");
    assert!(entry("usr/lib/systemd/system/fleet-node.service").starts_with("-rw-r--r-- root/root"));
    for path in [
        "usr/share/bash-completion/completions/fleet-node",
        "usr/share/zsh/vendor-completions/_fleet-node",
        "usr/share/fish/vendor_completions.d/fleet-node.fish",
        "usr/share/man/man1/fleet-node.1.gz",
        "usr/share/man/man1/fleet-node-create.1.gz",
        "usr/share/man/man1/fleet-node-boot.1.gz",
        "usr/share/doc/fleet-node/copyright",
    ] {
        entry(path);
    }
    assert!(
        !contents.contains("help.1"),
        "no pages for clap's help verb"
    );

    // Built twice from the same binary and commit: the same bytes.
    let again = build_deb(&node.root.path().join("deb-again"));
    assert_eq!(
        std::fs::read(deb).unwrap(),
        std::fs::read(&again).unwrap(),
        "the package is not reproducible"
    );

    // A dynamic binary is refused, naming why.
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-deb"))
        .args(["--binary", "/bin/true", "--out"])
        .arg(node.root.path().join("deb-dynamic"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dynamically linked"), "{stderr}");

    unit_file_parses(&node.root.path().join("unit-check"));
}

/// `systemd-analyze verify` on the unit: only the complaint that its programs are not on this
/// machine (they are in the package) is allowed.
fn unit_file_parses(scratch: &Path) {
    std::fs::create_dir_all(scratch).unwrap();
    let unit = scratch.join("fleet-node.service");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/fleet-node.service"),
        &unit,
    )
    .unwrap();
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
    {
        Ok(out) => out,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("systemd-analyze cannot run ({e}): apt-get install systemd")
        }
        Err(e) => return eprintln!("unit not verified: systemd-analyze: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("is not executable: No such file or directory"))
        .collect();
    assert!(complaints.is_empty(), "systemd-analyze verify: {stderr}");
}

#[test]
fn installed_in_a_debian_11_root_the_package_gives_a_working_node() {
    let Some(node) = crate::node() else { return };
    let deb = deb_under_test();
    let root = crate::root_in(&node, "bullseye");
    old_root::unpack(&root.dir);
    std::fs::copy(deb, root.dir.join("tmp/fleet-node.deb")).unwrap();
    root.sh(&["dpkg", "-i", "/tmp/fleet-node.deb"]);

    let status = root.sh(&[
        "dpkg-query",
        "-W",
        "-f",
        "${Status} ${Version}",
        "fleet-node",
    ]);
    assert_eq!(
        status,
        format!("install ok installed {}", env!("CARGO_PKG_VERSION"))
    );
    let enabled = root
        .dir
        .join("etc/systemd/system/multi-user.target.wants/fleet-node.service");
    assert_eq!(
        std::fs::read_link(&enabled).unwrap(),
        Path::new("/usr/lib/systemd/system/fleet-node.service"),
        "postinst enables the unit"
    );
    assert!(
        root.ok(&["/usr/bin/fleet-node", "--version"])
            .starts_with("fleet-node ")
    );

    // The installed bash completion, in the root's own bash (5.1).
    let completed = root.sh(&[
        "bash",
        "--norc",
        "-c",
        "source /usr/share/bash-completion/completions/fleet-node && complete -p fleet-node >/dev/null && \
         COMP_WORDS=(fleet-node cre) COMP_CWORD=1 && _fleet__node fleet-node cre fleet-node && \
         printf '%s\\n' \"${COMPREPLY[@]}\"",
    ]);
    assert_eq!(completed.trim(), "create");

    // The installed pages render.
    let page = root.dir.join("usr/share/man/man1/fleet-node-create.1.gz");
    match Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("fleet-node-create"),
                "{text}"
            );
        }
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("man cannot run ({e}): apt-get install man-db")
        }
        Err(e) => eprintln!("man pages not rendered: man: {e}"),
    }

    // What the unit runs: stop --all at shutdown stops every running container; boot (the first
    // step of supervise --boot) starts the onboot ones.
    let parent = node.parent.as_str();
    let node_args = ["--root", "/var/lib/fleet-node", "--cgroup-parent", parent];
    let fleet_node = |args: &[&str]| -> String {
        let mut argv = vec!["/usr/bin/fleet-node"];
        argv.extend_from_slice(&node_args);
        argv.extend_from_slice(args);
        root.ok(&argv)
    };
    for (name, onboot) in [("keep", true), ("other", false)] {
        let mut create = vec!["create", name, "--template", "busybox"];
        if onboot {
            create.push("--onboot");
        }
        create.extend(["--", "/bin/sleep", "1000000"]);
        fleet_node(&create);
    }
    let pid = |name: &str| -> Option<i64> {
        let s: serde_json::Value =
            serde_json::from_str(&fleet_node(&["status", name, "-o", "json"])).unwrap();
        s["init_pid"].as_i64()
    };
    let before = pid("keep").expect("keep runs");
    // The unit's ExecStop outside a shutdown (an upgrade's restart) leaves containers running;
    // `stop --all` is what it does while the host shuts down.
    let out = fleet_node(&["stop", "--all", "--if-shutting-down", "--timeout", "10"]);
    assert!(out.contains("not shutting down"), "{out}");
    assert!(alive(before as i32), "keep was stopped outside a shutdown");
    fleet_node(&["stop", "--all", "--timeout", "10"]);
    assert!(
        !alive(before as i32),
        "stop --all left keep's init {before}"
    );
    assert_eq!(pid("other"), None, "other is stopped");
    assert!(fleet_node(&["boot"]).contains("keep: started"));
    assert!(pid("keep").is_some(), "boot starts the onboot container");
    assert_eq!(pid("other"), None, "boot leaves the others stopped");

    // Removal keeps the containers' state; the binary and the enablement go.
    fleet_node(&["stop", "keep"]);
    root.sh(&["dpkg", "-r", "fleet-node"]);
    assert!(!root.dir.join("usr/bin/fleet-node").exists());
    assert!(
        std::fs::symlink_metadata(&enabled).is_err(),
        "the unit is still enabled"
    );
    assert!(
        root.dir
            .join("var/lib/fleet-node/containers/keep/config.json")
            .is_file(),
        "dpkg -r removed container state"
    );
}
