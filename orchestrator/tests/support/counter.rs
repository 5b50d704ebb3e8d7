//! What a live move that kept the counting container's processes must show, read from outside
//! before and after: the counter went on (not reset), the same shell counts, and every number
//! arrived over the container's TCP connection once, in order, the last ones after the move;
//! and a move's report without pre-dump rounds. Shared with the VM tier's live move (`tests/vm/tests/vm/live_move.rs`, by `#[path]`).

#![allow(dead_code)]

/// Asserts that `after` (the counter, the counting shell's PID inside, the numbers the listener
/// received) carries on from `before` and `pid`, seen before the move.
#[track_caller]
pub fn assert_went_on(before: u64, pid: &str, after: (u64, String, Vec<u64>)) {
    let (counter, pid_after, received) = after;
    assert!(
        counter > before,
        "the counter went on from {before} (not reset): {counter}"
    );
    assert_eq!(pid_after, pid, "the same shell counts");
    assert!(
        received.iter().enumerate().all(|(i, &n)| n == i as u64 + 1),
        "the stream has a gap or a repeat: {received:?}"
    );
    assert!(
        received.last().is_some_and(|&n| n > before),
        "nothing arrived over the connection after the move: {received:?}"
    );
}

/// Asserts that the live move `moved` (an entry of the JSON report's `moves`) made no pre-dump
/// round, and that the reason it gives contains `why`.
#[track_caller]
pub fn assert_no_pre_dump(moved: &serde_json::Value, why: &str) {
    assert!(moved.get("pre_dumps").is_none(), "{moved:#}");
    assert!(
        moved["pre_dumps_stopped"]
            .as_str()
            .is_some_and(|stopped| stopped.contains(why)),
        "{moved:#}"
    );
}
