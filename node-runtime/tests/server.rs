//! `fleet-node serve --stdio` answering a scripted session of raw frames, including malformed
//! ones and a wrong protocol version, then leaving containers running at end of input.

mod support;

use serde_json::{Value, json};
use support::{Node, ServeSession, alive};

fn spec(name: &str) -> Value {
    json!({
        "name": name, "fleet": "demo", "template": {"kind": "busybox"},
        "command": ["sleep", "1000"], "hostname": name,
    })
}

#[test]
fn stdio_server_answers_a_scripted_session_with_malformed_frames() {
    let Some(node) = Node::new() else { return };
    // Not greeted: the script says hello itself, after what a node must refuse before it.
    let mut session = ServeSession::start(&node);

    session.send_frame(b"this is not json");
    let reply = session.recv();
    assert_eq!(reply["body"]["type"], "error");
    assert!(
        reply["body"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed request")
    );

    let reply = session.ask(json!({"type": "ping"}));
    assert!(
        reply["message"].as_str().unwrap().contains("hello first"),
        "{reply}"
    );

    let reply = session.ask(json!({"type": "hello", "protocol_version": 99, "client": "test"}));
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.contains("protocol version 99") && message.contains("version 1"),
        "{message}"
    );

    let reply = session.ask(json!({"type": "hello", "protocol_version": 1, "client": "test"}));
    assert_eq!(reply["type"], "hello");
    let info = reply;
    assert_eq!(info["protocol_version"], 1);
    assert!(info["cgroup_version"] == 1 || info["cgroup_version"] == 2);
    assert!(info["capacity"]["cpus"].as_u64().unwrap() >= 1);
    assert!(info["capacity"]["memory"].as_u64().unwrap() > 0);
    assert_eq!(info["features"]["busybox"], true);
    assert_eq!(info["features"]["overlayfs"], true);
    assert!(!info["kernel"].as_str().unwrap().is_empty());

    let reply = session.ask(json!({"type": "ping"}));
    assert_eq!(reply, json!({"type": "pong"}));

    // Valid JSON of the wrong shape: an error naming the id, and the session goes on.
    let reply = session.ask(json!({"type": "launch_missiles"}));
    assert_eq!(reply["type"], "error");

    let reply = session.ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "create", "spec": spec("srv-a")},
        {"action": "create", "spec": spec("srv-a")},
        {"action": "start", "name": "nope"},
        {"action": "create", "spec": spec("bad/name")},
        {"action": "stop", "name": "srv-a", "timeout_secs": 0},
        {"action": "start", "name": "srv-a"},
    ]}));
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let done = |changed: bool| json!({"outcome": "done", "changed": changed});
    let error = |i: usize| results[i]["outcome"]["error"].as_str().unwrap();
    assert_eq!(results[0]["outcome"], done(true));
    assert_eq!(results[1]["outcome"], done(false));
    assert_eq!(results[2]["outcome"]["outcome"], "failed");
    assert!(error(2).contains("does not exist"));
    assert!(error(3).contains("invalid container name"));
    assert_eq!(results[4]["outcome"], done(true));
    assert_eq!(results[5]["outcome"], done(true));

    let reply = session.ask(json!({"type": "list"}));
    let containers = reply["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "srv-a");
    assert_eq!(containers[0]["state"], "running");
    let pid = containers[0]["init_pid"].as_i64().unwrap() as i32;

    let mut renamed = spec("srv-a");
    renamed["hostname"] = json!("renamed");
    let reply = session.ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "update", "spec": renamed, "allow_restart": false},
    ]}));
    let outcome = &reply["results"][0]["outcome"];
    assert_eq!(outcome["outcome"], "failed");
    assert_eq!(outcome["needs_restart"], true, "{outcome}");

    assert!(
        session.close().success(),
        "server ends cleanly at end of input"
    );
    assert!(alive(pid), "containers keep running after the server ends");
}

#[test]
fn each_action_is_reported_as_it_finishes_before_the_batch_ends() {
    let Some(node) = Node::new() else { return };
    let mut session = ServeSession::open(&node);
    // An init with a SIGTERM handler that does not exit: stopping it waits out the timeout, so
    // the batch cannot end before the test kills that init itself.
    let mut stubborn = spec("stubborn");
    stubborn["init"] = json!("none");
    stubborn["command"] = json!([
        "/bin/sh",
        "-c",
        "trap 'echo term' TERM; while :; do sleep 1; done"
    ]);
    let made = session.ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "create", "spec": stubborn},
    ]}));
    assert_eq!(made["results"][0]["outcome"]["outcome"], "done", "{made}");
    let list = session.ask(json!({"type": "list"}));
    let pid = list["containers"][0]["init_pid"].as_i64().unwrap() as i32;
    // The sh traps TERM once it has installed its handler: wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let catches_term = || {
        u64::from_str_radix(&support::proc_status(pid, "SigCgt"), 16)
            .is_ok_and(|m| m & (1 << 14) != 0)
    };
    while !catches_term() {
        assert!(
            std::time::Instant::now() < deadline,
            "sh never trapped TERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let id = session.send(json!({"type": "apply", "fleet": "demo", "progress": true,
    "after": [[], [], [], [2]],
    "actions": [
        {"action": "create", "spec": spec("quick")},
        {"action": "stop", "name": "stubborn", "timeout_secs": 120},
        {"action": "start", "name": "ghost"},
        {"action": "start", "name": "quick"},
    ]}));
    let first = session.recv();
    assert_eq!(first["id"], id);
    assert_eq!(first["body"]["type"], "progress", "{first}");
    assert_eq!(first["body"]["index"], 0);
    assert_eq!(first["body"]["result"]["container"], "quick");
    assert_eq!(first["body"]["result"]["outcome"]["outcome"], "done");
    assert!(
        alive(pid),
        "the first action was reported while the second still ran (its init is alive)"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut reported = vec![first["body"]["result"].clone()];
    for index in 1..4 {
        let frame = session.recv();
        assert_eq!(frame["id"], id);
        assert_eq!(frame["body"]["type"], "progress", "{frame}");
        assert_eq!(frame["body"]["index"], index);
        reported.push(frame["body"]["result"].clone());
    }
    assert_eq!(reported[1]["outcome"]["outcome"], "done", "{reported:?}");
    assert_eq!(reported[2]["outcome"]["outcome"], "failed", "{reported:?}");
    assert_eq!(
        reported[3]["outcome"]["error"], "not run: ghost did not succeed",
        "an action whose prerequisite in the batch failed is not run: {reported:?}"
    );
    let answer = session.recv();
    assert_eq!(answer["id"], id);
    assert_eq!(answer["body"]["type"], "applied", "{answer}");
    assert_eq!(answer["body"]["results"], json!(reported));
    // Without asking, a client gets the answer alone.
    let quiet = session.ask(json!({"type": "apply", "fleet": "demo", "actions": [
        {"action": "destroy", "name": "stubborn"},
        {"action": "destroy", "name": "quick"},
    ]}));
    assert_eq!(quiet["type"], "applied", "{quiet}");
    assert!(session.close().success());
}
