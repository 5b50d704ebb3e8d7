//! The node's apply lock and journal, end to end through `transport: local` with the real
//! fleet-node: a second apply against a host whose lock is held fails at once naming the holder,
//! or waits for it with `--lock-timeout`; an apply whose node is killed mid-batch leaves a
//! journal that `plan` and the next `apply` report, and that apply converges and clears it.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::fleetctl::{
    COMMAND_LIMIT, LocalFleet, command, containers, expect, run, spawn, wait_within,
};

/// A local fleet of `count` busybox containers named `<label>-<unique>`.
fn local_fleet(label: &str, count: usize) -> Option<LocalFleet> {
    LocalFleet::new(
        label,
        &format!(
            "  - name: c-{{1..{count}}}\n    template: busybox\n    \
             command: [\"/bin/sleep\", \"1000000\"]\n    host: here\n    resources:\n      \
             memory: 32Mi\n"
        ),
    )
}

/// A process holding `<root>/apply.lock` (util-linux `flock -F`, so the PID is the holder) until
/// it is dropped, when it is killed by its PID. It holds for as long as the test needs rather than
/// for a fixed time: under load a command can take longer than any timer to reach the lock.
struct Holder(Child);

impl Holder {
    fn hold(root: &Path) -> Holder {
        std::fs::create_dir_all(root).unwrap();
        let lock = root.join("apply.lock");
        let child = Command::new("flock")
            .args(["-x", "-F"])
            .arg(&lock)
            .args(["sleep", "1000000"])
            .spawn()
            .expect("run flock (util-linux)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !is_held(&lock) {
            assert!(
                Instant::now() < deadline,
                "flock never took {}",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The record a node writes beside the lock, as another apply would have left it.
        std::fs::write(
            root.join("apply.lock.holder"),
            r#"{"fleet":"other-fleet","user":"tester@box","client":"fleet 0.1.0","pid":4242,"since":"2026-11-26T16:00:00Z"}"#,
        )
        .unwrap();
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `fleet VERB -f SPEC --lock-timeout 60 EXTRA...` while `holder` holds the lock: a second
/// later it must still be waiting (nothing can finish under another's lock), then the holder lets
/// go and the command must run to success. Returns what it printed.
fn waits_for(holder: Holder, verb: &str, spec: &Path, extra: &[&str]) -> String {
    let mut args = vec![verb, "-f", spec.to_str().unwrap(), "--lock-timeout", "60"];
    args.extend_from_slice(extra);
    let mut child = spawn(&args);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "fleet {verb} finished while another held the lock"
    );
    drop(holder);
    let out = wait_within(child, COMMAND_LIMIT, &format!("fleet {verb}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "fleet {verb}: {text}");
    text
}

fn is_held(lock: &Path) -> bool {
    Command::new("flock")
        .args(["-n", "-x"])
        .arg(lock)
        .arg("true")
        .status()
        .is_ok_and(|s| !s.success())
}

#[test]
fn a_held_apply_lock_fails_fast_naming_the_holder_or_is_waited_for() {
    let Some(local) = local_fleet("lock", 2) else {
        return;
    };
    let (spec, root) = (local.spec.clone(), local.root.clone());

    let holder = Holder::hold(&root);
    let out = run(&["apply", "-f", spec.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("here refused the batch")
            && text.contains(
                "held by fleet other-fleet (user tester@box, client fleet 0.1.0, fleet-node pid 4242) since 2026-11-26T16:00:00Z"
            ),
        "{text}"
    );
    assert!(
        containers(&spec).is_empty(),
        "nothing is done under another's lock"
    );
    // Issue 13, defect 7: the refused batch left an empty lock file per container behind.
    let left: Vec<_> = std::fs::read_dir(root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "the refused apply left {left:?}");
    assert_eq!(
        text.matches("held by fleet other-fleet").count(),
        1,
        "lock contention is said once, not once per container: {text}"
    );

    // Still held: this apply waits for the holder to let go, then runs.
    assert!(is_held(&root.join("apply.lock")));
    let waited = waits_for(holder, "apply", &spec, &[]);
    assert!(
        waited.contains("Apply complete: 2 done (2 changed)"),
        "{waited}"
    );
    assert_eq!(containers(&spec).len(), 2);
    assert!(
        !root.join("apply.lock.holder").exists(),
        "the holder record goes with the lock"
    );
    assert!(!root.join("journal.json").exists());

    // `fleet destroy` takes the same lock: refused while another holds it, or waits for it.
    let holder = Holder::hold(&root);
    let out = run(&["destroy", "-f", spec.to_str().unwrap(), "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        containers(&spec).len(),
        2,
        "nothing destroyed under another's lock"
    );
    let gone = waits_for(holder, "destroy", &spec, &["--yes"]);
    assert!(containers(&spec).is_empty(), "{gone}");
}

#[test]
fn an_apply_cut_off_midway_is_reported_and_the_next_one_finishes_it() {
    let Some(local) = local_fleet("journal", 6) else {
        return;
    };
    let (spec, root, fleet) = (local.spec.clone(), local.root.clone(), &local.fleet);
    let journal = root.join("journal.json");

    let mut apply = command(&["apply", "-f", spec.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill the node serving the batch (its PID is in the lock's holder record) once the journal
    // says at least one action finished.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (done, node_pid) = loop {
        assert!(
            Instant::now() < deadline,
            "the journal never showed progress"
        );
        let seen: Option<serde_json::Value> = std::fs::read(&journal)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(j) = seen
            && j["done"].as_u64().unwrap_or(0) >= 1
        {
            let holder: serde_json::Value =
                serde_json::from_slice(&std::fs::read(root.join("apply.lock.holder")).unwrap())
                    .unwrap();
            let pid = holder["pid"].as_u64().unwrap();
            let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
            assert!(cmdline.contains("fleet-node"), "{pid}: {cmdline}");
            assert!(
                Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap()
                    .success()
            );
            break (j["done"].as_u64().unwrap(), pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        apply.wait().unwrap().code(),
        Some(1),
        "a lost session fails the apply"
    );
    // fleet sees the node's stdout close before the dying node has closed its lock file: wait
    // until it is gone (or a zombie) so the next hello does not find the lock still held.
    let gone = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(format!("/proc/{node_pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    }) {
        assert!(
            Instant::now() < gone,
            "the killed node {node_pid} did not exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A process the node had just forked to start a container holds the lock's descriptor until
    // it execs or exits: wait for the lock itself to be free, as the next apply would find it.
    while is_held(&root.join("apply.lock")) {
        assert!(Instant::now() < gone, "the apply lock was never released");
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&journal).unwrap()).unwrap();
    let done_then = left["done"].as_u64().unwrap();
    assert!(done_then >= done && done_then < 6, "{left}");

    let note = format!(
        "note: here: the apply of {} by {} (fleet {fleet}) was cut off after {done_then} of 6 actions",
        left["holder"]["since"].as_str().unwrap(),
        left["holder"]["user"].as_str().unwrap(),
    );
    let plan = expect("plan", &spec, &[], 0);
    assert!(
        plan.contains(&format!("{note}; the next apply finishes it")),
        "{plan}"
    );
    // `fleet status` tells it too.
    let status = run(&["status", "-f", spec.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&status.stderr);
    assert!(said.contains(&note), "{said}");
    let out = expect("apply", &spec, &[], 0);
    assert!(out.contains("this apply finishes it"), "{out}");
    assert!(!journal.exists(), "the finishing apply clears the journal");
    let seen = containers(&spec);
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.iter().all(|c| c.state == "running"), "{seen:?}");
    let again = expect("plan", &spec, &["--detailed-exitcode"], 0);
    assert!(
        again.contains("No changes.") && !again.contains("note:"),
        "{again}"
    );

    // A journal whose remaining work is already done (nothing to plan) is still cleared.
    std::fs::write(
        &journal,
        r#"{"holder":{"fleet":"x","user":"tester@box","client":"fleet","pid":1,"since":"2026-11-26T16:00:00Z"},"actions":[{"action":"start","container":"c-1"},{"action":"start","container":"c-2"}],"done":1}"#,
    )
    .unwrap();
    let out = expect("apply", &spec, &[], 0);
    assert!(
        out.contains(
            "note: here: the apply of 2026-11-26T16:00:00Z by tester@box (fleet x) was cut off after 1 of 2 actions; this apply finishes it"
        ) && out.contains("No changes."),
        "{out}"
    );
    assert!(
        !journal.exists(),
        "an apply with nothing to do clears the journal too"
    );
}
