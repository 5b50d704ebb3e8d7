//! Limits through the protocol (`serve --stdio`), as the orchestrator drives them: create with
//! resources, `List` reporting the live values read from the kernel, `Update` changing them
//! live with the same init, bad values failing with the field named, and a change that cannot
//! be live failing with `needs_restart`.

mod support;

use serde_json::{Value, json};
use support::{Node, ServeSession};

fn spec(name: &str, resources: Value) -> Value {
    json!({
        "name": name, "fleet": "demo", "template": {"kind": "busybox"},
        "command": ["sleep", "1000"], "hostname": name, "resources": resources,
    })
}

fn status<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[test]
fn update_changes_limits_live_and_list_reads_them_back() {
    let Some(node) = Node::new() else { return };
    let mut session = ServeSession::open(&node);
    let hello = session.hello.clone();
    assert!(hello["features"]["notes"].is_array(), "{hello}");
    let mut ask = |body: Value| session.ask(body);

    let first = json!({"memory": 64u64 << 20, "pids": 50, "cpu_units": 2000});
    let applied = ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "create", "spec": spec("p1", first.clone())},
        {"action": "create", "spec": spec("p2", json!({"cpu_limit": 50}))},
    ]}));
    for result in applied["results"].as_array().unwrap() {
        assert_eq!(result["outcome"]["outcome"], "done", "{applied}");
    }
    let list = ask(json!({"type": "list"}));
    let p1 = status(&list, "p1");
    assert_eq!(p1["live"], first, "{p1}");
    assert_eq!(status(&list, "p2")["live"]["cpu_limit"], 50);
    let pid = p1["init_pid"].clone();

    let second = json!({"memory": 128u64 << 20, "pids": 80, "cpu_units": 500, "cpu_limit": 150});
    let applied = ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "update", "spec": spec("p1", second.clone()), "allow_restart": false},
    ]}));
    assert_eq!(
        applied["results"][0]["outcome"],
        json!({"outcome": "done", "changed": true}),
        "{applied}"
    );
    let list = ask(json!({"type": "list"}));
    let p1 = status(&list, "p1");
    assert_eq!(p1["live"], second, "{p1}");
    assert_eq!(p1["init_pid"], pid, "a live update keeps init");

    let applied = ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "update", "spec": spec("p1", json!({"cpu_units": 5})), "allow_restart": true},
    ]}));
    let outcome = &applied["results"][0]["outcome"];
    assert_eq!(outcome["outcome"], "failed", "{applied}");
    assert_eq!(outcome["needs_restart"], false);
    let error = outcome["error"].as_str().unwrap();
    assert!(
        error.contains("cpu.units") && error.contains("8..=500000"),
        "{error}"
    );
    assert_eq!(status(&ask(json!({"type": "list"})), "p1")["live"], second);

    if std::path::Path::new("/dev/loop-control").exists() {
        let disk = json!({"disk_space": 16u64 << 20, "disk_inodes": 128});
        let applied = ask(json!({"type": "apply", "fleet": "demo", "actions": [
            {"action": "create", "spec": spec("p3", disk)},
        ]}));
        assert_eq!(
            applied["results"][0]["outcome"]["outcome"], "done",
            "{applied}"
        );
        let list = ask(json!({"type": "list"}));
        assert_eq!(status(&list, "p3")["live"]["disk_space"], 16u64 << 20);
        assert_eq!(status(&list, "p3")["live"]["disk_inodes"], 128);
        let applied = ask(json!({"type": "apply", "fleet": "demo", "actions": [
            {"action": "update",
             "spec": spec("p3", json!({"disk_space": 16u64 << 20, "disk_inodes": 256})),
             "allow_restart": false},
        ]}));
        let outcome = &applied["results"][0]["outcome"];
        assert_eq!(outcome["outcome"], "failed", "{applied}");
        assert_eq!(outcome["needs_restart"], true, "{applied}");
    }
    assert!(session.close().success());
}
