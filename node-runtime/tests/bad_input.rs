//! Bad input: each a clear error naming what was wrong and what would be valid, and nothing
//! changed on the node.

mod support;

use fleet_protocol::{ContainerSpec, TemplateRef};
use support::{Node, busybox, sleeper};

fn spec(name: &str, template: TemplateRef) -> ContainerSpec {
    ContainerSpec {
        template,
        ..sleeper(name)
    }
}

fn nothing_on_node(node: &Node) {
    assert_eq!(node.ok(&["list", "-o", "json"]).trim(), "[]");
    assert!(node.runtime().cgroups.children(&node.parent).is_empty());
}

#[test]
fn unknown_template_and_bad_names_are_refused_and_change_nothing() {
    let Some(node) = Node::new() else { return };
    let err = node.fails(&["create", "c", "--template", "centos7"]);
    assert!(
        err.contains("unknown template \"centos7\"") && err.contains("host, busybox"),
        "{err}"
    );
    let long = "x".repeat(65);
    for (name, why) in [
        ("a/b", "'/'"),
        ("..", "'..'"),
        (long.as_str(), "64 characters"),
    ] {
        let err = node.fails(&["create", name, "--template", "busybox"]);
        assert!(
            err.contains("invalid container name") && err.contains(why),
            "{name}: {err}"
        );
    }
    let err = node.fails(&busybox("nocmd", &[], &["/no/such/init"]));
    assert!(
        err.contains("/no/such/init") && err.contains("No such file"),
        "{err}"
    );
    assert!(
        !node.container_dir("nocmd").exists(),
        "a create that cannot start is rolled back"
    );
    let err = node.fails(&["start", "missing"]);
    assert!(err.contains("\"missing\" does not exist"), "{err}");
    nothing_on_node(&node);
}

#[test]
fn missing_busybox_names_the_package_to_install() {
    let Some(node) = Node::new() else { return };
    let mut rt = node.runtime();
    rt.sources.busybox = "/nonexistent/busybox".into();
    let err = rt
        .create(&spec("bb", TemplateRef::Busybox))
        .unwrap_err()
        .to_string();
    assert!(err.contains("busybox-static"), "{err}");
    nothing_on_node(&node);
}

#[test]
fn create_of_an_existing_container_with_another_spec_is_refused() {
    let Some(node) = Node::new() else { return };
    node.ok(&busybox("one", &["--hostname", "first"], &[]));
    let pid = node.init_pid("one");
    let err = node.fails(&busybox("one", &["--hostname", "second"], &[]));
    assert!(err.contains("already exists with another spec"), "{err}");
    assert_eq!(node.status("one")["hostname"], "first");
    assert_eq!(node.init_pid("one"), pid, "untouched");
    assert_eq!(
        node.ok(&busybox("one", &["--hostname", "first"], &[]))
            .trim(),
        "one: unchanged"
    );
    assert_eq!(node.init_pid("one"), pid);
}

#[test]
fn tarball_templates_are_checked_against_their_sha256() {
    let Some(node) = Node::new() else { return };
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("tree/bin")).unwrap();
    std::fs::copy("/bin/busybox", src.path().join("tree/bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", src.path().join("tree/bin/sleep")).unwrap();
    std::os::unix::fs::symlink("busybox", src.path().join("tree/bin/cat")).unwrap();
    std::fs::write(src.path().join("tree/motd"), "from the tarball\n").unwrap();
    let tarball = src.path().join("tiny.tar.gz");
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(src.path().join("tree"))
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let sha = node_runtime::template::tarball::sha256_file(&tarball).unwrap();
    let path = tarball.to_str().unwrap();
    let wrong = "0".repeat(64);
    let err = node.fails(&["create", "tb", "--template", path, "--sha256", &wrong]);
    assert!(err.contains("has sha256") && err.contains(&sha), "{err}");
    let err = node.fails(&["create", "tb", "--template", path, "--sha256", "abc"]);
    assert!(err.contains("64 lowercase hex"), "{err}");
    nothing_on_node(&node);
    node.ok(&[
        "create",
        "tb",
        "--template",
        path,
        "--sha256",
        &sha,
        "--",
        "/bin/sleep",
        "1000",
    ]);
    assert_eq!(
        node.exec("tb", &["/bin/cat", "/motd"]),
        "from the tarball\n"
    );
}

/// `disk.user_quota` where the kernel lacks the QFMT_V2 quota format (this machine's): the
/// hello says so, with a note naming it, and a create is refused naming the feature and the
/// kernel, with nothing made. Where the kernel has it, the disk is made with the quota feature
/// (the VM tier runs quotas for real).
#[test]
fn user_quota_on_a_kernel_without_the_quota_format_is_refused_naming_it() {
    let Some(node) = Node::new() else { return };
    let support = node_runtime::disk::quota::kernel_support();
    let mut session = support::ServeSession::open(&node);
    let features = session.hello["features"].clone();
    session.close();
    assert_eq!(features["user_quota"], support.is_ok(), "{features}");
    let quota = ContainerSpec {
        resources: fleet_protocol::Resources {
            disk_space: Some(64 << 20),
            ..Default::default()
        },
        disk: fleet_protocol::DiskSpec {
            user_quota: true,
            ..Default::default()
        },
        ..spec("q", TemplateRef::Busybox)
    };
    let created = node.runtime().create(&quota);
    match support {
        Err(why) => {
            assert!(why.contains("QFMT_V2") && why.contains("quota_v2"), "{why}");
            assert!(
                features["notes"].to_string().contains("QFMT_V2"),
                "{features}"
            );
            let err = created.unwrap_err().to_string();
            let release = nix::sys::utsname::uname().unwrap();
            let release = release.release().to_string_lossy();
            assert!(
                err.contains("\"q\"")
                    && err.contains("disk.user_quota needs the kernel's QFMT_V2")
                    && err.contains(&*release),
                "{err}"
            );
            assert!(!node.container_dir("q").exists(), "nothing stored");
            nothing_on_node(&node);
        }
        Ok(()) => {
            assert!(created.unwrap());
            let image = node.container_dir("q").join("disk.img");
            let image = node_runtime::disk::Image::open(&image);
            assert!(image.has_quota().unwrap());
            node.ok(&["destroy", "q"]);
        }
    }
}
