//! /proc and /sys masks and the container's mountinfo, tried from inside as container root
//! would (issue 10, finding 10): every masked path reads as empty or is refused, the masks cannot
//! be unmounted, remounted or written (also from a nested user namespace where nesting is
//! allowed), and mountinfo names no path of the node's store. Privileged and with a user
//! namespace.

mod support;

use std::path::Path;

use node_runtime::rootfs::masks::{MASKED_DIRS, MASKED_FILES, SOURCE};
use support::Node;

/// Both ways a container runs: host root as container root, and (the default) a user namespace.
const MODES: [&[&str]; 2] = [&["--privileged"], &[]];

fn create(node: &Node, name: &str, template: &str, extra: &[&str]) {
    let mut args = vec!["create", name, "--template", template];
    args.extend_from_slice(extra);
    node.ok(&args);
}

/// The masked paths this host's kernel has (the others do not exist inside either).
fn present(list: &[&'static str]) -> Vec<&'static str> {
    list.iter()
        .copied()
        .filter(|rel| Path::new("/").join(rel).exists())
        .collect()
}

/// Runs a script inside and returns what it printed (the script's own failures are its output).
fn sh(node: &Node, name: &str, script: &str) -> String {
    let out = node.run(&["exec", name, "--", "sh", "-c", script]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn masked_files_read_as_empty_and_masked_directories_list_nothing() {
    let Some(node) = Node::new() else { return };
    let files = present(MASKED_FILES);
    let dirs = present(MASKED_DIRS);
    assert!(
        !files.is_empty() && !dirs.is_empty(),
        "no masked path on this host"
    );
    // The leaks of finding 10 are masked where the kernel has them, and they are real leaks:
    // host root reads them.
    for leak in ["proc/slabinfo", "proc/vmallocinfo", "proc/config.gz"] {
        assert!(MASKED_FILES.contains(&leak), "{leak} is not masked");
        if files.contains(&leak) {
            let host = std::fs::read(Path::new("/").join(leak)).unwrap();
            assert!(!host.is_empty(), "host root reads /{leak}");
        }
    }
    let mut script = String::new();
    for rel in &files {
        script.push_str(&format!(
            "test -e /{rel} || echo 'missing /{rel}'; \
             n=$(head -c 4096 /{rel} 2>/dev/null | wc -c); [ \"$n\" = 0 ] || echo \"read $n bytes of /{rel}\"; \
             (echo x > /{rel}) 2>/dev/null && echo 'wrote /{rel}'; "
        ));
    }
    for rel in &dirs {
        script.push_str(&format!(
            "test -d /{rel} || echo 'missing /{rel}'; \
             n=$(ls -A /{rel} | wc -l); [ \"$n\" = 0 ] || echo \"/{rel} lists $n entries\"; \
             touch /{rel}/x 2>/dev/null && echo 'created /{rel}/x'; "
        ));
    }
    script.push_str("echo done");
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("mask{i}");
        create(&node, &name, "busybox", mode);
        let out = sh(&node, &name, &script);
        assert_eq!(
            out, "done\n",
            "{mode:?}: every masked path is empty and read-only"
        );
    }
}

#[test]
fn masks_cannot_be_unmounted_remounted_or_written() {
    let Some(node) = Node::new() else { return };
    let file = present(MASKED_FILES)[0];
    let dir = present(MASKED_DIRS)[0];
    let attempts = format!(
        "umount /{file} && echo 'unmounted /{file}'; \
         umount -l /{file} && echo 'detached /{file}'; \
         umount /{dir} && echo 'unmounted /{dir}'; \
         umount /{SOURCE} && echo 'unmounted the source'; \
         mount -o remount,rw /{SOURCE} && echo 'remounted the source'; \
         mount -o remount,bind,rw /{file} && echo 'remounted /{file}'; \
         (echo x > /{SOURCE}/null) && echo 'wrote the source'; \
         rm -f /{SOURCE}/null && echo 'removed the source'; \
         mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo 'mounted a fresh proc'; \
         n=$(head -c 4096 /{file} | wc -c); echo \"/{file} $n\""
    );
    let want = format!("/{file} 0\n");
    for (i, mode) in MODES.iter().enumerate() {
        let name = format!("undo{i}");
        create(&node, &name, "busybox", mode);
        assert_eq!(sh(&node, &name, &attempts), want, "{mode:?}");
    }
    // Where nesting is allowed, root of a nested user namespace has CAP_SYS_ADMIN over its own
    // mount namespace, but the masks came from the container's (more privileged) one: the
    // kernel locks them, and refuses a fresh proc or sysfs while the masked one exists.
    create(&node, "nested", "busybox", &["--nesting"]);
    let nested = format!(
        "unshare -U -m -r sh -c \"{}\"; \
         unshare -U -m -p -f -r sh -c \"mkdir -p /tmp/q; \
           mount -t proc proc /tmp/q && echo 'mounted a fresh proc in a new pid namespace'; \
           mount -t sysfs sysfs /tmp/q && echo 'mounted a fresh sysfs'\"; \
         n=$(head -c 4096 /{file} | wc -c); echo \"/{file} $n\"",
        attempts.replace('"', "\\\"").replace('$', "\\$")
    );
    assert_eq!(
        sh(&node, "nested", &nested),
        format!("{want}{want}"),
        "nested namespaces"
    );
}

#[test]
fn mountinfo_inside_names_no_path_of_the_store() {
    let Some(node) = Node::new() else { return };
    create(&node, "bbpriv", "busybox", &["--privileged"]);
    create(&node, "bb", "busybox", &[]);
    create(&node, "hostt", "host", &[]);
    create(&node, "hostpriv", "host", &["--privileged"]);
    node.create("disky", &["--stopped"]);
    node.ok(&["set", "disky", "--disk-space", "16Mi"]);
    node.ok(&["start", "disky"]);
    // The store's root as given and as the kernel resolves it; the templates and containers
    // below it by their relative paths too.
    let roots = [
        node.root.path().display().to_string(),
        node.root
            .path()
            .canonicalize()
            .unwrap()
            .display()
            .to_string(),
    ];
    for name in ["bbpriv", "bb", "hostt", "hostpriv", "disky"] {
        // Init's view and an exec'd process's, in both formats.
        let seen = node.exec(
            name,
            &[
                "cat",
                "/proc/self/mountinfo",
                "/proc/1/mountinfo",
                "/proc/self/mounts",
            ],
        );
        for word in roots.iter().map(String::as_str).chain([
            "containers/",
            "templates/",
            "fleet-node-test-",
        ]) {
            assert!(
                !seen.contains(word),
                "{name}: mountinfo names {word}:\n{seen}"
            );
        }
        // The builtin init (each container's command here is not an init) is bound from a
        // read-only overlay of its directory: a plain bind of the host file named the store.
        assert!(seen.contains(" /dev/fleet-init "), "{name}: {seen}");
        let overlay = seen
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/") && l.contains(" - overlay "))
            .expect("the root overlay");
        assert!(overlay.contains("lowerdir=/proc/self/fd/"), "{overlay}");
        assert!(overlay.contains("upperdir=/proc/self/fd/"), "{overlay}");
    }
}
