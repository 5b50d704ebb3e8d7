//! A live move's pre-dump rounds, before its export and import begin. The source
//! ([`PreDumping`]) holds the container's lock from the first round on, makes each round while
//! the container runs (`checkpoint::pre_dump_for_move`) and packs it into the stream the
//! orchestrator reads with `CheckpointRead`; its export takes the lock and the rounds over, and
//! the final dump names the last round as its parent. The target ([`Rounds`]) writes each
//! round's stream to a file of its own under `<root>/incoming/`; its import takes them over,
//! and the commit verifies every one before it unpacks and uses any (`live.rs`).
//!
//! A failed round leaves the container running and the rounds before it standing; the move
//! goes on from them. A session that ends before the export forgets the rounds.

use fleet_protocol::transfer::{PRE_DUMP_ROUNDS_MAX, PreDumpRound};

use super::live::{self, Incoming, Outgoing};
use super::read_mark;
use crate::container::Runtime;
use crate::store::{ContainerLock, validate_name};

/// The source's rounds of one container.
#[derive(Debug)]
pub(super) struct PreDumping {
    /// Taken at the first round; `None` once the export took it over.
    lock: Option<ContainerLock>,
    /// Rounds made (their directories are under the move directory).
    rounds: u32,
    /// The last round's stream.
    outgoing: Option<Outgoing>,
    /// Where the rounds are, to forget them when the move ends here.
    moving: (std::path::PathBuf, std::path::PathBuf),
}

/// Makes the next round of `name`'s pre-dumps; `slot` holds the rounds so far (none before the
/// first) and, after a failure, still the rounds before it.
pub(super) fn round(
    runtime: &Runtime,
    name: &str,
    slot: &mut Option<PreDumping>,
) -> Result<PreDumpRound, String> {
    validate_name(name).map_err(|e| e.to_string())?;
    if slot.is_none() {
        let lock = runtime.store.lock(name).map_err(|e| e.to_string())?;
        if read_mark(&runtime.store.layout(name)).is_some() {
            return Err(format!(
                "a move of {name} began earlier and did not end; it is finished by this one's dump"
            ));
        }
        *slot = Some(PreDumping {
            lock: Some(lock),
            rounds: 0,
            outgoing: None,
            moving: live::paths(runtime, name),
        });
    }
    let state = slot.as_mut().expect("set above");
    let made = (|| {
        let lock = state.lock.as_ref().expect("held until the export");
        let found = runtime
            .repair(name, lock)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("container {name:?} not found"))?;
        let round = state.rounds + 1;
        let (dir, report) = crate::checkpoint::pre_dump_for_move(runtime, name, &found, round)
            .map_err(|e| e.to_string())?;
        let outgoing = Outgoing::pack(runtime, name, &dir)?;
        Ok::<_, String>((round, report, outgoing))
    })();
    match made {
        Ok((round, report, outgoing)) => {
            state.rounds = round;
            let answer = PreDumpRound {
                round,
                pages: report.pages,
                bytes: outgoing.size(),
                took_ms: report.took.as_millis() as u64,
            };
            state.outgoing = Some(outgoing);
            Ok(answer)
        }
        Err(e) => {
            state.outgoing = None;
            if state.rounds == 0 {
                *slot = None;
            }
            Err(e)
        }
    }
}

impl PreDumping {
    /// The next chunk of the last round's stream.
    pub(super) fn read(
        &mut self,
        raw: bool,
    ) -> Result<(Option<fleet_protocol::transfer::Chunk>, Option<String>), String> {
        match &mut self.outgoing {
            Some(outgoing) => outgoing.read(raw),
            None => Err("no pre-dump round's stream is ready (the last round failed)".into()),
        }
    }

    /// For the export: the container's lock and how many rounds its dump follows.
    pub(super) fn hand_over(mut self) -> (ContainerLock, u32) {
        let lock = self.lock.take().expect("held until the export");
        (lock, self.rounds)
    }
}

impl Drop for PreDumping {
    /// Rounds no export took over are of no use: removed while the lock is still held.
    fn drop(&mut self) {
        if self.lock.is_some() {
            let _ = std::fs::remove_dir_all(&self.moving.0);
            let _ = std::fs::remove_file(&self.moving.1);
        }
    }
}

/// The target's rounds of one container, in order.
#[derive(Debug, Default)]
pub(super) struct Rounds(Vec<Incoming>);

/// Begins receiving round `round` of `bytes` for `name`: round 1 replaces whatever an earlier
/// move left, each later round must follow the last.
pub(super) fn begin_round(
    runtime: &Runtime,
    name: &str,
    round: u32,
    bytes: u64,
    rounds: &mut Rounds,
) -> Result<(), String> {
    validate_name(name).map_err(|e| e.to_string())?;
    if runtime.store.layout(name).config.exists() {
        return Err(format!(
            "a container named {name} exists on this host already"
        ));
    }
    if round == 1 {
        rounds.0.clear();
    }
    let next = rounds.0.len() as u32 + 1;
    if round != next || round > PRE_DUMP_ROUNDS_MAX {
        return Err(format!(
            "pre-dump round {round}: the next is round {next}, and at most {PRE_DUMP_ROUNDS_MAX}"
        ));
    }
    rounds
        .0
        .push(Incoming::begin(runtime, name, Some(round), bytes)?);
    Ok(())
}

impl Rounds {
    /// Writes a chunk of the last round's stream.
    pub(super) fn write(&mut self, chunk: &fleet_protocol::transfer::Chunk) -> Result<(), String> {
        match self.0.last_mut() {
            Some(incoming) => incoming.write(chunk),
            None => Err("no pre-dump round is under way".into()),
        }
    }

    /// Checks every round against the source's checksums, in order; returns them.
    pub(super) fn verify(self, digests: &[String]) -> Result<Vec<Incoming>, String> {
        if digests.len() != self.0.len() {
            return Err(format!(
                "{} pre-dump rounds arrived, the commit names {}",
                self.0.len(),
                digests.len()
            ));
        }
        for (incoming, digest) in self.0.iter().zip(digests) {
            incoming.verify(digest)?;
        }
        Ok(self.0)
    }
}
