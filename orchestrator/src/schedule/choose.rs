//! The host for one container placed on its own (a spread member, or any container under
//! first-fit), by the preference `docs/placement.md` describes: the spread value holding fewest
//! members of the container's group; then (packing) a host already in use over an empty one;
//! then the host left fullest (least sum of squared free shares); then the host's index.
//!
//! Two ways to the same choice. [`scan`] weighs every eligible host (first-fit, and the
//! reference the tests hold the other to); [`packed`] weighs the hosts in use one by one and
//! the empty ones once per class of interchangeable hosts (same capacity, same labels), so a
//! fleet of 5,000 mostly empty hosts costs a pass over the few in use, not over all 5,000.
//!
//! Neighbours: called by `packer`; reads and never changes `state`'s slots (the caller binds).

use super::Strategy;
use super::resources::{Amounts, Resource};
use super::state::{State, group_of, matches};
use crate::model::DesiredContainer;

/// The chosen host's slot, and the warning to give when the spread could not be kept even.
pub(super) type Choice = Option<(usize, Option<String>)>;

/// The preference order: fewest group members on the host's spread value, then in use over
/// empty (packing), then least left over, then the lower index.
type Rank = (u32, u8, f64, usize);

fn better(a: &Rank, b: &Rank) -> bool {
    (a.0, a.1)
        .cmp(&(b.0, b.1))
        .then(a.2.total_cmp(&b.2))
        .then(a.3.cmp(&b.3))
        .is_lt()
}

/// Picks a host among `eligible` (the selector's hosts, in index order) by weighing each.
pub(super) fn scan<'a>(
    st: &mut State<'a>,
    c: &'a DesiredContainer,
    d: &Amounts,
    eligible: &[usize],
    strategy: Strategy,
) -> Choice {
    let spread = c
        .placement
        .spread
        .as_deref()
        .map(|key| st.spread.counts_for(group_of(c), key, &st.slots));
    let mut best: Option<Rank> = None;
    let mut fewest_anywhere: Option<u32> = None;
    for &i in eligible {
        let s = &st.slots[i];
        let members = match &spread {
            Some((ids, counts)) => match ids[i] {
                Some(v) => counts[v],
                None => continue,
            },
            None => 0,
        };
        fewest_anywhere = Some(fewest_anywhere.map_or(members, |m| m.min(members)));
        let Some(alloc) = s.allocatable else {
            continue;
        };
        let after = s.used.plus(d);
        if !after.fits_within(&alloc) {
            continue;
        }
        let key = match strategy {
            Strategy::FirstFit => (members, 0, 0.0, i),
            Strategy::Pack => (members, u8::from(s.count == 0), leftover(&alloc, &after), i),
        };
        if best.as_ref().is_none_or(|b| better(&key, b)) {
            best = Some(key);
            if strategy == Strategy::FirstFit && members == 0 {
                break;
            }
        }
    }
    let (members, _, _, i) = best?;
    Some((i, spread_warning(st, c, i, members, fewest_anywhere)))
}

/// Picks the host [`scan`] would pick under packing, weighing the hosts in use one by one and
/// each class of empty hosts once (by its first host: the others of the class rank the same
/// but for their higher index).
pub(super) fn packed<'a>(st: &mut State<'a>, c: &'a DesiredContainer, d: &Amounts) -> Choice {
    let selector = &c.placement.selector;
    let key = c.placement.spread.as_deref();
    if let Some(key) = key {
        st.values_in(selector, key);
    }
    let st = &*st;
    let group = group_of(c);
    // Members of the group on host i's value; `None` when host i lacks the spread label.
    let members_at = |i: usize| -> Option<u32> {
        match key {
            None => Some(0),
            Some(key) => {
                let id = st.spread.ids(key)[i]?;
                Some(st.spread.held(group, key).map_or(0, |h| h.per_value[id]))
            }
        }
    };
    let mut best: Option<Rank> = None;
    let mut weigh = |rank: Rank| {
        if best.as_ref().is_none_or(|b| better(&rank, b)) {
            best = Some(rank);
        }
    };
    for &i in &st.busy {
        let s = &st.slots[i];
        if !s.schedulable || !matches(s.host, selector) {
            continue;
        }
        let (Some(members), Some(alloc)) = (members_at(i), s.allocatable) else {
            continue;
        };
        let after = s.used.plus(d);
        if after.fits_within(&alloc) {
            weigh((members, 0, leftover(&alloc, &after), i));
        }
    }
    for ((alloc, labels), hosts) in &st.idle {
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            continue;
        }
        let i = *hosts.first().expect("an idle class is never empty");
        let Some(members) = members_at(i) else {
            continue;
        };
        let after = st.slots[i].used.plus(d);
        if after.fits_within(alloc) {
            weigh((members, 1, leftover(alloc, &after), i));
        }
    }
    let (members, _, _, i) = best?;
    // The fewest members on any value the selector's hosts have (fitting or not), as `scan`
    // counts it: 0 while some such value holds none, else the least of a few held values.
    let fewest = key.and_then(|key| {
        let (values, mask) = st.values_in_cached(selector, key);
        if values.is_empty() {
            return None;
        }
        let Some(held) = st.spread.held(group, key) else {
            return Some(0);
        };
        let holding = held.values.iter().filter(|&&v| mask[v]).count();
        if holding < values.len() {
            Some(0)
        } else {
            values.iter().map(|&v| held.per_value[v]).min()
        }
    });
    Some((i, spread_warning(st, c, i, members, fewest)))
}

/// The warning when host `i` holds more of the group (`members`) on its spread value than the
/// value holding fewest (`fewest`): the even spread could not be kept.
fn spread_warning(
    st: &State,
    c: &DesiredContainer,
    i: usize,
    members: u32,
    fewest: Option<u32>,
) -> Option<String> {
    let key = c.placement.spread.as_deref()?;
    let fewest = fewest?;
    if members <= fewest {
        return None;
    }
    let host = st.slots[i].host;
    let value = if key == "host" {
        host.name.as_str()
    } else {
        host.labels.get(key).map_or("", String::as_str)
    };
    Some(format!(
        "{} goes to {} ({key}={value}), which already holds {members} of group {}: the {key} \
         values holding fewer ({fewest}) have no room",
        c.spec.name,
        host.name,
        group_of(c)
    ))
}

/// Sum of squared free shares after placing: small when the host is left full.
fn leftover(alloc: &Amounts, after: &Amounts) -> f64 {
    Resource::ALL
        .iter()
        .filter(|r| alloc.get(**r) > 0)
        .map(|r| {
            let free = (alloc.get(*r) - after.get(*r)) as f64 / alloc.get(*r) as f64;
            free * free
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::model::{Fleet, HostCapacity, Overcommit};
    use crate::plan::fixture;
    use crate::schedule::{Current, Options, place_with};

    /// xorshift64*: the same fleets on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    /// Hosts of three shapes (a few of unknown capacity), most with a zone, some with a rack;
    /// containers mostly spread (over zones, racks or hosts), some with a zone selector, a few
    /// pinned; more demand than some zones hold, so spreads go uneven and some fail.
    fn seeded_fleet(rng: &mut Rng, hosts: usize, containers: usize) -> Fleet {
        let zones = ["a", "b", "c", "d"];
        let hosts: Vec<_> = (0..hosts)
            .map(|i| {
                let mut h = fixture::host(&format!("h{i:03}"));
                let (cpus, gib) = [(8, 32), (16, 64), (4, 16)][rng.below(3) as usize];
                if rng.below(20) != 0 {
                    h.capacity = HostCapacity {
                        cpus: Some(cpus),
                        memory: Some(gib << 30),
                        disk: Some(500 << 30),
                    };
                }
                h.overcommit = Overcommit {
                    cpu: 1.5,
                    memory: 1.0,
                };
                if rng.below(10) != 0 {
                    let zone = zones[rng.below(4) as usize];
                    h.labels.insert("zone".into(), zone.into());
                }
                if rng.below(3) == 0 {
                    h.labels.insert("rack".into(), format!("r{}", rng.below(3)));
                }
                h
            })
            .collect();
        let containers = (0..containers)
            .map(|i| {
                let mut spec = fixture::spec("test", &format!("c{i:04}"));
                spec.resources.cpu_limit = Some(25 + 25 * rng.below(8) as u32);
                spec.resources.memory = Some((1 + rng.below(8)) << 29);
                spec.resources.disk_space = Some((1 + rng.below(10)) << 30);
                let mut c = fixture::pinned(spec, "");
                c.host = (rng.below(40) == 0).then(|| hosts[rng.below(40) as usize].name.clone());
                c.placement.spread = match rng.below(8) {
                    0 => None,
                    1 | 2 => Some("host".into()),
                    3 => Some("rack".into()),
                    _ => Some("zone".into()),
                };
                c.placement.group = Some(format!("g{}", i / 9));
                if rng.below(4) == 0 {
                    let zone = zones[rng.below(4) as usize];
                    c.placement.selector.insert("zone".into(), zone.into());
                }
                c
            })
            .collect();
        Fleet {
            name: "test".into(),
            hosts,
            containers,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn packed_choices_match_the_scan_on_seeded_fleets() {
        let mut rng = Rng(0x5eed);
        let (mut placed, mut warnings, mut unplaced) = (0, 0, 0);
        for _ in 0..30 {
            let fleet = seeded_fleet(&mut rng, 40, 700);
            let cordoned: BTreeSet<String> = (0..3)
                .map(|_| fleet.hosts[rng.below(40) as usize].name.clone())
                .collect();
            // Some containers run somewhere already, a few of them where they no longer fit.
            let mut current = Current::new();
            for c in &fleet.containers {
                if rng.below(6) == 0 {
                    let h = &fleet.hosts[rng.below(40) as usize];
                    current.insert(c.spec.name.clone(), h.name.clone());
                }
            }
            let options = Options {
                cordoned,
                ..Options::default()
            };
            // The packer checks every choice against `scan` in test builds; this drives it
            // over fleets that reach every branch.
            let (a, failed) = match place_with(&fleet, &BTreeMap::new(), &current, &options) {
                Ok(a) => (a, 0),
                Err(e) => (e.partial, e.unplaced.len()),
            };
            placed += a.bindings.len();
            warnings += a.warnings.len();
            unplaced += failed;
        }
        assert!(placed > 10_000, "{placed} placed");
        assert!(warnings > 100, "{warnings} warnings");
        assert!(unplaced > 100, "{unplaced} unplaced");
    }
}
