//! The journal of the apply batch in progress: `<root>/journal.json`, written atomically before
//! a batch runs (its holder, its actions, how many are done), rewritten after each action and
//! removed when the batch ends. A journal found while nobody holds the apply lock is a batch that
//! was cut off (connection lost, orchestrator or node killed); the hello reports it, and the next
//! batch, whose actions are idempotent, finishes the job and replaces it.
//! Neighbours: [`super::lock`] (held while the journal is live), [`super::hello`] (reports it).

use std::path::{Path, PathBuf};

use fleet_protocol::{Action, InterruptedBatch, LockHolder};
use serde::{Deserialize, Serialize};

use super::lock::{self, write_atomic};

/// What `journal.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Who runs the batch and since when.
    pub holder: LockHolder,
    /// The batch, in order.
    pub actions: Vec<Entry>,
    /// How many actions have finished.
    pub done: u32,
}

/// One action of a journaled batch: its verb and container, not the whole spec. The next apply
/// plans from what it observes, never from the journal, and a short journal is cheap to rewrite
/// after every action of a batch of hundreds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `create`, `start`, `stop`, `update` or `destroy`.
    pub action: String,
    /// Container name.
    pub container: String,
}

impl From<&Action> for Entry {
    fn from(action: &Action) -> Entry {
        let verb = match action {
            Action::Create { .. } => "create",
            Action::Start { .. } => "start",
            Action::Stop { .. } => "stop",
            Action::Update { .. } => "update",
            Action::Destroy { .. } => "destroy",
        };
        Entry {
            action: verb.to_owned(),
            container: action.container().to_owned(),
        }
    }
}

/// `<root>/journal.json`.
pub fn path(root: &Path) -> PathBuf {
    root.join("journal.json")
}

/// The live journal of the batch this session runs; removed on drop, so a batch that ends in
/// any way other than the process dying leaves none behind.
#[derive(Debug)]
pub struct Running {
    path: PathBuf,
    /// The journal serialized up to its `done` value (`{"holder":..,"actions":[..],"done":`):
    /// the actions are encoded once, not once per action of a batch of hundreds.
    head: Vec<u8>,
    done: u32,
}

impl Running {
    /// Writes the journal of a batch about to start.
    pub fn begin(root: &Path, holder: &LockHolder, actions: &[Action]) -> std::io::Result<Running> {
        let journal = Journal {
            holder: holder.clone(),
            actions: actions.iter().map(Entry::from).collect(),
            done: 0,
        };
        let mut head = serde_json::to_vec(&journal).expect("a journal serializes");
        // Fields serialize in declaration order, `done` last: cut its `0}` off.
        debug_assert!(head.ends_with(b"\"done\":0}"));
        head.truncate(head.len() - 2);
        let running = Running {
            path: path(root),
            head,
            done: 0,
        };
        running.write()?;
        Ok(running)
    }

    /// Records that `done` actions have finished. Best effort: a journal that cannot be
    /// rewritten only makes a later cut-off report less precise, so the batch goes on.
    pub fn advance(&mut self, done: usize) {
        self.done = u32::try_from(done).unwrap_or(u32::MAX);
        let _ = self.write();
    }

    fn write(&self) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(self.head.len() + 12);
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(self.done.to_string().as_bytes());
        bytes.push(b'}');
        write_atomic(&self.path, &bytes)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The journal left under `root`, when there is one.
pub fn read(root: &Path) -> Option<Journal> {
    let bytes = std::fs::read(path(root)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A batch that was cut off: a journal is there and no apply holds the lock (one that does is
/// still running, not interrupted).
pub fn interrupted(root: &Path) -> Option<Box<InterruptedBatch>> {
    let journal = read(root)?;
    if lock::is_held(root) {
        return None;
    }
    Some(Box::new(InterruptedBatch {
        holder: journal.holder,
        total: u32::try_from(journal.actions.len()).unwrap_or(u32::MAX),
        done: journal.done,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_left_behind_is_reported_and_one_in_progress_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let holder = LockHolder {
            fleet: "web".into(),
            ..Default::default()
        };
        let actions = vec![
            Action::Start { name: "a".into() },
            Action::Start { name: "b".into() },
        ];
        let held = lock::acquire(dir.path(), &holder, std::time::Duration::ZERO).unwrap();
        let mut running = Running::begin(dir.path(), &holder, &actions).unwrap();
        running.advance(1);
        assert_eq!(
            read(dir.path()).unwrap(),
            Journal {
                holder: holder.clone(),
                actions: actions.iter().map(Entry::from).collect(),
                done: 1
            }
        );
        assert_eq!(
            interrupted(dir.path()),
            None,
            "the lock is held: in progress"
        );
        // The process dies: the journal stays, the flock goes with it.
        std::mem::forget(running);
        drop(held);
        let cut = interrupted(dir.path()).unwrap();
        assert_eq!(
            (cut.holder.fleet.as_str(), cut.done, cut.total),
            ("web", 1, 2)
        );
        // The next batch replaces it and removes it when it ends.
        drop(Running::begin(dir.path(), &holder, &actions).unwrap());
        assert!(!path(dir.path()).exists());
    }
}
