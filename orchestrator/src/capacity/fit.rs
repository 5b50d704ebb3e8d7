//! `--fit`: how many more containers of one shape fit, per host and in all, given what is
//! already placed.
//!
//! Neighbours: reads a `Density` (headroom per host); the shape comes from a profile or from
//! [`parse_shape`].

use std::collections::BTreeMap;

use fleet_protocol::units::{parse_percent, parse_size};
use serde::Serialize;

use super::Density;
use crate::model::Fleet;
use crate::schedule::{Amounts, Resource};

/// How many of the shape fit on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FitHost {
    /// Host name.
    pub host: String,
    /// How many more fit.
    pub count: u64,
    /// The resource that runs out first (`None` for an unknown-capacity or excluded host).
    pub limited_by: Option<Resource>,
    /// Whether the host's capacity is known (declared or reported); an unknown one counts no
    /// container and says so.
    pub capacity_known: bool,
}

/// The answer to `--fit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FitReport {
    /// The shape asked about, as written.
    pub profile: String,
    /// Its demand.
    pub shape: Amounts,
    /// Only hosts matching these labels were counted.
    pub selector: BTreeMap<String, String>,
    /// Per host, by name.
    pub hosts: Vec<FitHost>,
    /// Sum over hosts.
    pub total: u64,
}

impl FitReport {
    /// How many more fit in all, honest about hosts of unknown capacity (they count none and
    /// are not a "0 more"): the table's and the HTML's one sentence.
    pub fn total_text(&self) -> String {
        let unknown = self.hosts.iter().filter(|h| !h.capacity_known).count();
        match unknown {
            0 => format!("{} more in all", self.total),
            n if n == self.hosts.len() => {
                "capacity unknown on every host: declare it in the spec or pass --observe".into()
            }
            n => format!(
                "{} more on the hosts whose capacity is known ({n} unknown, not counted)",
                self.total
            ),
        }
    }

    /// Rows of host, how many more fit, and the resource that limits it, for the table and HTML
    /// views alike.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.hosts
            .iter()
            .map(|h| {
                if !h.capacity_known {
                    return vec![h.host.clone(), "capacity unknown".into(), "-".into()];
                }
                vec![
                    h.host.clone(),
                    h.count.to_string(),
                    h.limited_by.map_or("-".into(), |r| r.to_string()),
                ]
            })
            .collect()
    }
}

/// Counts how many containers of `shape` fit in each host's headroom. Spread is not applied:
/// it depends on the group the new containers would join.
pub fn fit(
    fleet: &Fleet,
    density: &Density,
    profile: &str,
    shape: Amounts,
    selector: &BTreeMap<String, String>,
) -> FitReport {
    let hosts: Vec<FitHost> = density
        .hosts
        .iter()
        .map(|h| {
            let matches = fleet
                .host(&h.host)
                .is_some_and(|host| selector.iter().all(|(k, v)| host.labels.get(k) == Some(v)));
            if !matches || !h.capacity_known {
                return FitHost {
                    host: h.host.clone(),
                    count: 0,
                    limited_by: None,
                    capacity_known: h.capacity_known,
                };
            }
            let (count, limited_by) = Resource::ALL
                .iter()
                .filter(|r| shape.get(**r) > 0)
                .map(|r| (h.lines[r.index()].headroom / shape.get(*r), Some(*r)))
                .min_by_key(|(n, _)| *n)
                .unwrap_or((0, None));
            FitHost {
                host: h.host.clone(),
                count,
                limited_by,
                capacity_known: true,
            }
        })
        .collect();
    FitReport {
        profile: profile.to_string(),
        shape,
        selector: selector.clone(),
        total: hosts.iter().map(|h| h.count).sum(),
        hosts,
    }
}

/// Parses a shape written `cpu=150%,memory=2Gi,disk=10Gi` (any order; a part left out is 0,
/// except that an all-zero shape is refused).
pub fn parse_shape(text: &str) -> Result<Amounts, String> {
    let mut shape = Amounts::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            format!("invalid shape part {part:?}: expected key=value such as memory=2Gi")
        })?;
        let r = match key.trim() {
            "cpu" => Resource::Cpu,
            "memory" => Resource::Memory,
            "disk" => Resource::Disk,
            other => {
                return Err(format!(
                    "unknown resource {other:?} in shape: expected cpu, memory or disk"
                ));
            }
        };
        *shape.get_mut(r) = match r {
            Resource::Cpu => u64::from(parse_percent(value).map_err(|e| e.to_string())?),
            _ => parse_size(value).map_err(|e| e.to_string())?,
        };
    }
    if shape == Amounts::default() {
        return Err(format!(
            "shape {text:?} demands nothing: write it as cpu=100%,memory=1Gi,disk=10Gi"
        ));
    }
    Ok(shape)
}

/// Parses a host shape for `--hosts-needed`, written
/// `cpus=32,memory=128Gi,disk=2Ti[,cpu_overcommit=2][,memory_overcommit=1.5]`.
pub fn parse_host_shape(text: &str) -> Result<crate::schedule::HostShape, String> {
    let (mut cpus, mut memory, mut disk) = (None, None, None);
    let mut overcommit = crate::model::Overcommit::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| {
            format!("invalid host shape part {part:?}: expected key=value such as cpus=32")
        })?;
        let value = value.trim();
        let ratio = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|r| {
                    r.is_finite() && (1.0..=crate::schedule::validate::MAX_OVERCOMMIT).contains(r)
                })
                .ok_or_else(|| {
                    format!("invalid overcommit {value:?}: expected a ratio from 1.0 to 100")
                })
        };
        match key.trim() {
            "cpus" => {
                cpus = Some(
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            format!(
                                "invalid cpus {value:?}: expected a whole number of CPUs such as 32"
                            )
                        })?,
                )
            }
            "memory" => memory = Some(parse_size(value).map_err(|e| e.to_string())?),
            "disk" => disk = Some(parse_size(value).map_err(|e| e.to_string())?),
            "cpu_overcommit" => overcommit.cpu = ratio()?,
            "memory_overcommit" => overcommit.memory = ratio()?,
            other => {
                return Err(format!(
                    "unknown host shape key {other:?}: expected cpus, memory, disk, \
                     cpu_overcommit or memory_overcommit"
                ));
            }
        }
    }
    match (cpus, memory, disk) {
        (Some(cpus), Some(memory), Some(disk)) => Ok(crate::schedule::HostShape {
            cpus,
            memory,
            disk,
            overcommit,
        }),
        _ => Err(format!(
            "host shape {text:?} must give cpus, memory and disk, such as cpus=32,memory=128Gi,disk=2Ti"
        )),
    }
}
