//! The template cache: concurrent users of a template that is not built yet wait for one build
//! and all get the same tree; a failed build leaves nothing half-made behind.

use fleet_protocol::TemplateRef;
use node_runtime::template::{self, Sources};

#[test]
fn concurrent_users_of_one_template_share_a_single_build() {
    if !std::path::Path::new("/bin/busybox").is_file() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "busybox-static is required in CI"
        );
        eprintln!("skipping: /bin/busybox missing (apt-get install busybox-static)");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    // Debris of a build killed midway, which the next build must clear.
    std::fs::create_dir_all(cache.path().join(".busybox.tmp-999999/bin")).unwrap();
    let sources = Sources::default();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| template::prepare(cache.path(), &TemplateRef::Busybox, &sources)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let lower = &results[0].lower;
    assert!(lower.join("bin/busybox").is_file());
    assert!(
        lower
            .join("bin/sh")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let entries: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        entries.iter().all(|e| !e.contains(".tmp-")),
        "no half-built tree left: {entries:?}"
    );
}

#[test]
fn a_failed_tarball_build_leaves_no_tree() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let bogus = src.path().join("broken.tar");
    std::fs::write(&bogus, b"this is not a tar archive").unwrap();
    let sha = template::tarball::sha256_file(&bogus).unwrap();
    let tref = TemplateRef::Tarball {
        name: "broken".into(),
        path: bogus.display().to_string(),
        sha256: sha,
    };
    let err = template::prepare(cache.path(), &tref, &Sources::default()).unwrap_err();
    assert!(err.to_string().contains("tar"), "{err}");
    let dirs: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(dirs.is_empty(), "left behind: {dirs:?}");
}
