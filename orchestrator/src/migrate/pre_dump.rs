//! A live move's pre-dump rounds, before the source's export: where the source's criu tracks
//! dirty memory (its hello), the source copies the running container's memory round by round
//! (`PreDump`; round 1 all of it, each later round what was dirtied since) and each round's
//! stream goes to the target as the final dump's does (`ImportPreDump`, then `CheckpointRead` ->
//! `ImportCheckpoint`), so that the frozen dump that follows carries only the last dirty pages.
//! The rounds stop when one no longer shrinks, when one is small, or after the most rounds
//! (`FLEET_PRE_DUMPS`, default [`ROUNDS_DEFAULT`]); a round that fails on the source ends them
//! (the container runs on) and the dump follows the rounds made. Where there are none, the
//! report says why.

use std::time::{Duration, Instant};

use fleet_protocol::transfer::{PRE_DUMP_ROUNDS_MAX, PreDumpRound};
use fleet_protocol::{Request, Response};

use super::error::MoveError;
use super::wire::{MoveStep, Stream, expect_moved, relay, unexpected};
use crate::transport::NodeSession;

/// The most rounds a live move makes unless `FLEET_PRE_DUMPS` says otherwise.
pub const ROUNDS_DEFAULT: u32 = 3;
/// The environment variable that sets the most rounds (0: none).
pub const ROUNDS_ENV: &str = "FLEET_PRE_DUMPS";
/// A round that wrote fewer pages than this (1 MiB) leaves another little to gain.
const FEW_PAGES: u64 = 256;

/// What the rounds made and sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreDumps {
    /// Each round as the source made it.
    pub rounds: Vec<PreDumpRound>,
    /// Bytes of the rounds' chunks that crossed the sessions.
    pub sent: u64,
    /// Why there were no more rounds, or none.
    pub stopped: String,
    /// The source's checksum of each round's stream, for the commit.
    pub digests: Vec<String>,
    /// How long the rounds took, before the freeze (not downtime).
    pub took: Duration,
}

/// The most rounds, from `value` (the environment's `FLEET_PRE_DUMPS`), or why none.
pub fn max_rounds(value: Option<&str>) -> Result<u32, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(ROUNDS_DEFAULT),
        Some(text) => match text.parse::<u32>() {
            Ok(0) => Err(format!("turned off ({ROUNDS_ENV}=0)")),
            Ok(n) if n <= PRE_DUMP_ROUNDS_MAX => Ok(n),
            _ => Err(format!(
                "{ROUNDS_ENV}={text} is not a number of rounds: valid is 0 (none) to \
                 {PRE_DUMP_ROUNDS_MAX}"
            )),
        },
    }
}

/// Makes the rounds of `step`'s container; an error leaves it running on the source (the
/// caller aborts both sides' rounds).
pub(super) async fn run<S: NodeSession>(
    step: MoveStep<'_>,
    source: &mut S,
    target: &mut S,
) -> Result<PreDumps, MoveError> {
    let name = &step.spec.name;
    let (from, to) = (step.from, step.to);
    let runs_on = format!("{name} runs on {from} as before");
    let mut done = PreDumps::default();
    let started = Instant::now();
    let most = match source
        .pre_dumps()
        .map_err(|why| format!("{from}: {why}"))
        .and_then(|()| max_rounds(std::env::var(ROUNDS_ENV).ok().as_deref()))
    {
        Ok(most) => most,
        Err(why) => {
            done.stopped = why;
            return Ok(done);
        }
    };
    done.stopped = format!("{most} rounds, the most");
    for n in 1..=most {
        let ask = Request::PreDump {
            fleet: step.fleet.to_owned(),
            name: name.clone(),
            lock_timeout_secs: step.lock_timeout_secs,
            user: step.user.to_owned(),
        };
        let round = match source.call(ask).await {
            Ok(Response::PreDumped(round)) if round.round == n => round,
            Ok(Response::Error { message }) => {
                done.stopped = format!("round {n} failed on {from}: {message}");
                break;
            }
            Ok(other) => return Err(unexpected(from, "answered PreDump", other, &runs_on)),
            Err(e) => {
                return Err(MoveError::Lost {
                    host: from.to_owned(),
                    message: e.to_string(),
                    stays: runs_on,
                });
            }
        };
        let begin = Request::ImportPreDump {
            fleet: step.fleet.to_owned(),
            name: name.clone(),
            round: n,
            bytes: round.bytes,
            lock_timeout_secs: step.lock_timeout_secs,
            user: step.user.to_owned(),
        };
        expect_moved(target, to, "refused a pre-dump round", begin, &runs_on).await?;
        let relayed = relay(step, Stream::Checkpoint, source, target, &runs_on).await?;
        done.sent += relayed.sent;
        done.digests.push(relayed.digest);
        let before = done.rounds.last().map(|r| r.pages);
        let pages = round.pages;
        done.rounds.push(round);
        if let Some(before) = before.filter(|&b| pages >= b) {
            done.stopped = format!("dirty pages stopped shrinking ({pages} after {before})");
            break;
        }
        if pages < FEW_PAGES && n < most {
            done.stopped = format!("only {pages} pages were dirty");
            break;
        }
    }
    done.took = started.elapsed();
    Ok(done)
}

/// `2 pre-dump rounds (2.1k, 40 pages) before the dump (dirty pages stopped shrinking)`, or
/// `no pre-dump: WHY`.
pub fn describe(pre: &PreDumps) -> String {
    if pre.rounds.is_empty() {
        return format!("no pre-dump: {}", pre.stopped);
    }
    let pages: Vec<String> = pre.rounds.iter().map(|r| r.pages.to_string()).collect();
    format!(
        "{} pre-dump round{} ({} pages) in {:.1} s before the freeze ({})",
        pre.rounds.len(),
        if pre.rounds.len() == 1 { "" } else { "s" },
        pages.join(", "),
        pre.took.as_secs_f64(),
        pre.stopped
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_rounds_come_from_the_environment_or_the_default() {
        assert_eq!(max_rounds(None), Ok(ROUNDS_DEFAULT));
        assert_eq!(max_rounds(Some("")), Ok(ROUNDS_DEFAULT));
        assert_eq!(max_rounds(Some("2")), Ok(2));
        let off = max_rounds(Some("0")).unwrap_err();
        assert!(off.contains("FLEET_PRE_DUMPS=0"), "{off}");
        for bad in ["9", "-1", "many"] {
            let why = max_rounds(Some(bad)).unwrap_err();
            assert!(
                why.contains(&format!("FLEET_PRE_DUMPS={bad}")) && why.contains("0 (none) to 8"),
                "{why}"
            );
        }
    }

    #[test]
    fn a_description_gives_each_round_or_the_reason_for_none() {
        let none = PreDumps {
            stopped: "vm-0: no tracking".into(),
            ..PreDumps::default()
        };
        assert_eq!(describe(&none), "no pre-dump: vm-0: no tracking");
        let round = |round, pages| PreDumpRound {
            round,
            pages,
            bytes: pages * 4096,
            took_ms: 10,
        };
        let two = PreDumps {
            rounds: vec![round(1, 2100), round(2, 40)],
            stopped: "only 40 pages were dirty".into(),
            took: Duration::from_millis(1500),
            ..PreDumps::default()
        };
        assert_eq!(
            describe(&two),
            "2 pre-dump rounds (2100, 40 pages) in 1.5 s before the freeze (only 40 pages were dirty)"
        );
    }
}
