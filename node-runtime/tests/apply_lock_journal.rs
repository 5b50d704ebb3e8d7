//! The server's apply lock, journal and drift correction, scripted against `fleet-node serve
//! --stdio`: an Apply while another process holds `<root>/apply.lock` fails at once naming the
//! holder, or waits with `lock_timeout_secs`; a journal left by a cut-off batch is reported in the
//! hello and cleared by the next batch; an Update with an unchanged spec puts back a memory limit
//! written by hand, with the same init.

mod support;

use std::path::Path;
use std::time::Duration;

use fleet_protocol::LockHolder;
use node_runtime::server::{journal, lock};
use serde_json::{Value, json};
use support::{Node, ServeSession as Session};

fn spec(name: &str, memory: u64) -> Value {
    json!({
        "name": name, "fleet": "demo", "template": {"kind": "busybox"},
        "command": ["sleep", "1000"], "hostname": name, "resources": {"memory": memory},
    })
}

fn other_holder() -> LockHolder {
    LockHolder {
        fleet: "other".into(),
        user: "tester@box".into(),
        client: "fleet 0.1.0".into(),
        pid: 4242,
        since: "2026-11-26T16:00:00Z".into(),
    }
}

fn memory_file(node: &Node, name: &str) -> std::path::PathBuf {
    node.cgroup_dirs(name)
        .into_iter()
        .flat_map(|d| [d.join("memory.limit_in_bytes"), d.join("memory.max")])
        .find(|p| p.exists())
        .expect("a memory cgroup (v1 memory.limit_in_bytes or v2 memory.max)")
}

fn read_u64(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn apply_lock_is_exclusive_names_its_holder_and_can_be_waited_for() {
    let Some(node) = Node::new() else { return };
    let root = node.root.path().to_path_buf();
    let mut s = Session::open(&node);

    let held = lock::acquire(&root, &other_holder(), Duration::ZERO).unwrap();
    let create = json!({"type": "apply", "fleet": "demo", "user": "me@here",
        "actions": [{"action": "create", "spec": spec("a", 32 << 20)}]});
    let refused = s.ask(create.clone());
    assert_eq!(refused["type"], "error", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains(
            "held by fleet other (user tester@box, client fleet 0.1.0, fleet-node pid 4242) since 2026-11-26T16:00:00Z"
        ),
        "{message}"
    );
    assert!(
        !node.container_dir("a").exists(),
        "nothing done without the lock"
    );

    // Let go after a moment: an apply given a longer timeout waits, then runs.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(held);
    });
    let mut waiting = create;
    waiting["lock_timeout_secs"] = json!(30);
    let applied = s.ask(waiting);
    release.join().unwrap();
    assert_eq!(applied["type"], "applied", "{applied}");
    assert_eq!(
        applied["results"][0]["outcome"]["outcome"], "done",
        "{applied}"
    );
    assert!(
        !journal::path(&root).exists(),
        "the batch's journal ends with it"
    );

    // The session keeps the lock for its next waves: another apply is refused meanwhile.
    assert!(lock::is_held(&root));
    let mut other = Session::open(&node);
    let refused =
        other.ask(json!({"type": "apply", "fleet": "demo", "user": "you@there", "actions": []}));
    assert_eq!(refused["type"], "error", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("user me@here"),
        "{refused}"
    );
    other.close();

    // The session ends: the lock and its holder record go with it.
    s.close();
    assert!(
        !lock::is_held(&root),
        "the lock is released when the session ends"
    );
    assert!(!lock::holder_path(&root).exists());
}

#[test]
fn a_journal_left_behind_is_reported_in_the_hello_and_cleared_by_the_next_batch() {
    let Some(node) = Node::new() else { return };
    let root = node.root.path().to_path_buf();
    let actions: Vec<fleet_protocol::Action> = vec![
        fleet_protocol::Action::Start { name: "x".into() },
        fleet_protocol::Action::Start { name: "y".into() },
        fleet_protocol::Action::Start { name: "z".into() },
    ];
    let mut cut = journal::Running::begin(&root, &other_holder(), &actions).unwrap();
    cut.advance(2);
    // The process that ran it died: its journal stays.
    std::mem::forget(cut);

    let mut s = Session::open(&node);
    let reported = &s.hello["interrupted_batch"];
    assert_eq!(reported["holder"]["fleet"], "other", "{}", s.hello);
    assert_eq!(reported["holder"]["user"], "tester@box");
    assert_eq!(
        (reported["done"].clone(), reported["total"].clone()),
        (json!(2), json!(3))
    );

    let applied = s.ask(json!({"type": "apply", "fleet": "demo", "actions": []}));
    assert_eq!(applied["type"], "applied", "{applied}");
    assert!(!journal::path(&root).exists(), "the next batch clears it");
    drop(s);
    let s = Session::open(&node);
    assert!(s.hello.get("interrupted_batch").is_none(), "{}", s.hello);
}

#[test]
fn update_with_an_unchanged_spec_puts_back_a_limit_changed_by_hand() {
    let Some(node) = Node::new() else { return };
    let mut s = Session::open(&node);
    let created = s.ask(json!({"type": "apply", "fleet": "demo",
        "actions": [{"action": "create", "spec": spec("d", 32 << 20)}]}));
    assert_eq!(
        created["results"][0]["outcome"]["outcome"], "done",
        "{created}"
    );
    let pid = node.init_pid("d");
    let file = memory_file(&node, "d");
    assert_eq!(read_u64(&file), 32 << 20);
    std::fs::write(&file, (16u64 << 20).to_string()).unwrap();

    let update = json!({"type": "apply", "fleet": "demo",
        "actions": [{"action": "update", "spec": spec("d", 32 << 20), "allow_restart": false}]});
    let fixed = s.ask(update.clone());
    assert_eq!(
        fixed["results"][0]["outcome"],
        json!({"outcome": "done", "changed": true}),
        "{fixed}"
    );
    assert_eq!(read_u64(&file), 32 << 20, "the spec's value is back");
    assert_eq!(node.init_pid("d"), pid, "without a restart");
    let again = s.ask(update);
    assert_eq!(
        again["results"][0]["outcome"],
        json!({"outcome": "done", "changed": false}),
        "{again}"
    );
}
