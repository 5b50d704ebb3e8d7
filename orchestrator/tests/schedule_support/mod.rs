//! Builders for `model::Fleet` values, shared by the schedule and capacity tests, so each test
//! reads as the fleet it places.
#![allow(dead_code)]

use std::collections::BTreeMap;

use fleet::model::{
    DesiredContainer, Fleet, Host, HostCapacity, NodeSettings, Overcommit, Placement, Transport,
};
use fleet_protocol::units::parse_size;
use fleet_protocol::{ContainerSpec, Resources, TemplateRef};

/// A size such as `4Gi`.
pub fn size(text: &str) -> u64 {
    parse_size(text).unwrap()
}

/// A host with declared capacity and no overcommit.
pub fn host(name: &str, cpus: u32, memory: &str, disk: &str) -> Host {
    Host {
        name: name.into(),
        transport: Transport::Local,
        labels: BTreeMap::new(),
        capacity: HostCapacity {
            cpus: Some(cpus),
            memory: Some(size(memory)),
            disk: Some(size(disk)),
        },
        overcommit: Overcommit::default(),
        node: NodeSettings::default(),
    }
}

/// `n` alike hosts `h1`..`hn` of 4 CPUs, 8Gi of memory and 100Gi of disk.
pub fn alike_hosts(n: usize) -> Vec<Host> {
    (1..=n)
        .map(|i| host(&format!("h{i}"), 4, "8Gi", "100Gi"))
        .collect()
}

/// A host whose capacity only its node can tell.
pub fn unknown_host(name: &str) -> Host {
    Host {
        capacity: HostCapacity::default(),
        ..host(name, 1, "1Gi", "1Gi")
    }
}

/// A container demanding `cpu` percent, `memory` and `disk`.
pub fn ct(name: &str, cpu: u32, memory: &str, disk: &str) -> DesiredContainer {
    DesiredContainer {
        spec: ContainerSpec {
            resources: Resources {
                cpu_limit: Some(cpu),
                memory: Some(size(memory)),
                disk_space: Some(size(disk)),
                ..Resources::default()
            },
            ..ContainerSpec::new(
                "test",
                name,
                TemplateRef::Busybox,
                vec!["/bin/sleep".into(), "1000".into()],
            )
        },
        host: None,
        placement: Placement::default(),
        depends_on: Vec::new(),
    }
}

/// Chainable changes to hosts and containers.
pub trait HostExt {
    /// Adds labels.
    fn labels(self, labels: &[(&str, &str)]) -> Self;
    /// Sets overcommit ratios.
    fn overcommit(self, cpu: f64, memory: f64) -> Self;
}

impl HostExt for Host {
    fn labels(mut self, labels: &[(&str, &str)]) -> Self {
        for (k, v) in labels {
            self.labels.insert((*k).into(), (*v).into());
        }
        self
    }

    fn overcommit(mut self, cpu: f64, memory: f64) -> Self {
        self.overcommit = Overcommit { cpu, memory };
        self
    }
}

/// Chainable changes to containers.
pub trait ContainerExt {
    /// Pins to a host.
    fn pin(self, host: &str) -> Self;
    /// Adds selector labels.
    fn select(self, labels: &[(&str, &str)]) -> Self;
    /// Spreads over `key` within `group`.
    fn spread(self, key: &str, group: &str) -> Self;
}

impl ContainerExt for DesiredContainer {
    fn pin(mut self, host: &str) -> Self {
        self.host = Some(host.into());
        self
    }

    fn select(mut self, labels: &[(&str, &str)]) -> Self {
        for (k, v) in labels {
            self.placement.selector.insert((*k).into(), (*v).into());
        }
        self
    }

    fn spread(mut self, key: &str, group: &str) -> Self {
        self.placement.spread = Some(key.into());
        self.placement.group = Some(group.into());
        self
    }
}

/// A fleet of these hosts and containers, sorted by name as `resolve` leaves them.
pub fn fleet(mut hosts: Vec<Host>, mut containers: Vec<DesiredContainer>) -> Fleet {
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    containers.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Fleet {
        name: "test".into(),
        hosts,
        containers,
        warnings: Vec::new(),
    }
}

/// `a=h1 b=h2` as a current placement.
pub fn current(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .map(|pair| {
            let (c, h) = pair.split_once('=').expect("container=host");
            (c.to_string(), h.to_string())
        })
        .collect()
}
