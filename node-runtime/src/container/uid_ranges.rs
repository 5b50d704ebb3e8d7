//! The runtime's side of uid ranges: allocate under the node lock (the range the container's
//! name prefers, `Ranges::pick`), free at destroy, count what is left and report who holds what
//! (the hello), and rebuild a lost record from the copies in each container's state.json.

use std::path::PathBuf;

use fleet_protocol::uid_ranges::UidRanges;

use super::Runtime;
use crate::error::{Error, Result};
use crate::store::ContainerLock;
use crate::userns::pool::host_reserved;
use crate::userns::ranges::{FILE, Ranges};

impl Runtime {
    fn ranges_path(&self) -> PathBuf {
        self.store.root().join(FILE)
    }

    /// Node-wide lock over the range record (taken after a container's lock, never before).
    fn ranges_lock(&self) -> Result<ContainerLock> {
        self.store.node_lock("userns")
    }

    /// The range `name` holds, if any.
    pub fn uid_range(&self, name: &str) -> Result<Option<u32>> {
        Ok(self.load_ranges()?.ranges.get(name).copied())
    }

    /// The range `name` holds, allocating one when it holds none: the range its name prefers,
    /// else the next free one (`Ranges::pick`; a record made with the lowest-first order of
    /// earlier fleet-nodes is kept as it is).
    /// The caller holds the container's lock and its directory exists (so a record whose
    /// directory is gone is a destroy that died before freeing it, and is reclaimed here).
    pub(crate) fn allocate_uid_range(&self, name: &str) -> Result<u32> {
        let _lock = self.ranges_lock()?;
        let mut ranges = self.load_ranges()?;
        if let Some(&base) = ranges.ranges.get(name) {
            return Ok(base);
        }
        let containers = self.store.containers_dir();
        ranges
            .ranges
            .retain(|holder, _| containers.join(holder).is_dir());
        let base = ranges
            .pick(&self.uid_pool, &host_reserved(), name)
            .ok_or_else(|| Error::UidRangesExhausted {
                name: name.to_owned(),
                pool: self.uid_pool.to_string(),
                capacity: self.uid_pool.capacity(),
            })?;
        ranges.ranges.insert(name.to_owned(), base);
        ranges.write(&self.ranges_path())?;
        Ok(base)
    }

    /// Gives `name` the range at `base` (a live move's restore needs the range its tree was
    /// dumped with), when it is one of the pool's and nobody holds or reserves it.
    pub(crate) fn allocate_uid_range_at(&self, name: &str, base: u32) -> Result<u32> {
        let _lock = self.ranges_lock()?;
        let mut ranges = self.load_ranges()?;
        if ranges.ranges.get(name) == Some(&base) {
            return Ok(base);
        }
        let containers = self.store.containers_dir();
        ranges
            .ranges
            .retain(|holder, _| holder != name && containers.join(holder).is_dir());
        if !ranges.is_free(&self.uid_pool, &host_reserved(), base) {
            return Err(Error::UidRangeTaken {
                name: name.to_owned(),
                base,
            });
        }
        ranges.ranges.insert(name.to_owned(), base);
        ranges.write(&self.ranges_path())?;
        Ok(base)
    }

    /// Gives `name`'s range back to the pool (its files are gone). No-op when it holds none.
    pub(crate) fn free_uid_range(&self, name: &str) -> Result<()> {
        let _lock = self.ranges_lock()?;
        let path = self.ranges_path();
        let Some(mut ranges) = Ranges::read(&path)? else {
            return Ok(());
        };
        if let Some(base) = ranges.ranges.remove(name) {
            ranges.write(&path)?;
            crate::template::remove_shifted(&self.store.templates_dir(), base)?;
        }
        Ok(())
    }

    /// For the hello: how many more unprivileged containers this node can make, and its pool,
    /// the host's ids in it and who holds which range (the plan checks a live move's range).
    pub fn uid_ranges_report(&self) -> Result<(u32, UidRanges)> {
        let mut ranges = self.load_ranges()?;
        let containers = self.store.containers_dir();
        ranges
            .ranges
            .retain(|holder, _| containers.join(holder).is_dir());
        let mut reserved = host_reserved();
        let free = ranges.free_count(&self.uid_pool, &reserved);
        reserved.retain(|span| self.uid_pool.overlaps(span));
        Ok((
            free,
            UidRanges {
                pool_start: self.uid_pool.start,
                pool_end: self.uid_pool.end,
                reserved,
                held: ranges.ranges,
            },
        ))
    }

    /// The record; when there is none yet (a new node, or one whose containers were made by a
    /// fleet-node that kept the base only in state.json), it is built from the state files.
    fn load_ranges(&self) -> Result<Ranges> {
        if let Some(ranges) = Ranges::read(&self.ranges_path())? {
            return Ok(ranges);
        }
        let mut ranges = Ranges::default();
        for name in self.store.names()? {
            if let Ok(Some(state)) = self.store.read_state(&name)
                && let Some(base) = state.userns_base
            {
                ranges.ranges.insert(name, base);
            }
        }
        Ok(ranges)
    }
}
