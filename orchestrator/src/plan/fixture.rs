//! Fleets and observations built in code, for the diff/plan tests and the plan benchmark.
//!
//! Not in the shipped library: built for the unit tests and, with the `test-support` feature
//! (which the crate's dev-dependency on itself turns on), for `examples/plan_bench.rs` and the
//! integration tests, so they build the same values as the unit tests.

use std::collections::BTreeMap;

use fleet_protocol::{
    Capacity, ContainerSpec, ContainerState, ContainerStatus, Features, NodeInfo, PROTOCOL_VERSION,
    Resources, TemplateRef,
};

use crate::diff::{Assignment, HostObservation, Observed};
use crate::model::{DesiredContainer, Fleet, Host, NodeSettings, Placement, Transport};

/// A busybox container running `sleep`, 64Mi of memory.
pub fn spec(fleet: &str, name: &str) -> ContainerSpec {
    ContainerSpec {
        resources: Resources {
            memory: Some(64 << 20),
            ..Resources::default()
        },
        ..ContainerSpec::new(
            fleet,
            name,
            TemplateRef::Busybox,
            vec!["/bin/sleep".into(), "100000".into()],
        )
    }
}

/// A host reached through the local transport.
pub fn host(name: &str) -> Host {
    Host {
        name: name.into(),
        transport: Transport::Local,
        labels: BTreeMap::new(),
        capacity: Default::default(),
        overcommit: Default::default(),
        node: NodeSettings::default(),
    }
}

/// A desired container pinned to `host`.
pub fn pinned(spec: ContainerSpec, host: &str) -> DesiredContainer {
    DesiredContainer {
        spec,
        host: Some(host.into()),
        placement: Placement::default(),
        depends_on: Vec::new(),
    }
}

/// Where each pinned container of `fleet` goes (what the scheduler does for pinned ones).
pub fn pinned_assignment(fleet: &Fleet) -> Assignment {
    fleet
        .containers
        .iter()
        .filter_map(|c| Some((c.spec.name.clone(), c.host.clone()?)))
        .collect()
}

/// The diff of `fleet` against `observed` with every container on its pin and the default
/// options.
pub fn diff_pinned(fleet: &Fleet, observed: &Observed) -> crate::diff::Diff {
    crate::diff::diff(
        fleet,
        &pinned_assignment(fleet),
        &[],
        observed,
        crate::diff::DiffOptions::default(),
    )
}

/// A fleet from hosts and containers (sorted, as the resolver leaves them).
pub fn fleet(name: &str, mut hosts: Vec<Host>, mut containers: Vec<DesiredContainer>) -> Fleet {
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    containers.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Fleet {
        name: name.into(),
        hosts,
        containers,
        warnings: Vec::new(),
    }
}

/// Fleet `demo` of host a alone, with a container for each of `names`, pinned there.
pub fn demo_on_a(names: &[&str]) -> Fleet {
    let containers = names.iter().map(|n| pinned(spec("demo", n), "a")).collect();
    fleet("demo", vec![host("a")], containers)
}

/// Fleet `demo` of hosts a and b, with a container for each (name, host) of `pins`, pinned
/// there.
pub fn demo_on_a_and_b(pins: &[(&str, &str)]) -> Fleet {
    let containers = pins
        .iter()
        .map(|(name, host)| pinned(spec("demo", name), host))
        .collect();
    fleet("demo", vec![host("a"), host("b")], containers)
}

/// Fleet `f` of hosts a and b with `special` pinned to a beside a plain `web`, and a copy of
/// `special` named `db2` pinned to b: for a host feature that one host lacks.
pub fn special_on_a_and_its_copy_on_b(special: ContainerSpec) -> Fleet {
    let mut copy = special.clone();
    copy.name = "db2".into();
    fleet(
        "f",
        vec![host("a"), host("b")],
        vec![
            pinned(special, "a"),
            pinned(spec("f", "web"), "a"),
            pinned(copy, "b"),
        ],
    )
}

/// What a node reports for a container made from `spec`, running, with live limits equal to the
/// spec's.
pub fn running(spec: &ContainerSpec, pid: i32) -> ContainerStatus {
    ContainerStatus {
        name: spec.name.clone(),
        fleet: spec.fleet.clone(),
        state: ContainerState::Running,
        init_pid: Some(pid),
        spec: spec.clone(),
        live: spec.resources.clone(),
        usage: None,
        restarts: 0,
        last_exit: None,
        moving_to: None,
        moving_live: false,
    }
}

/// What a node reports of itself: `cpus`, `memory` and `disk_free` in bytes, and no count of free
/// uid ranges (an older node's hello).
pub fn capacity(cpus: u32, memory: u64, disk_free: u64) -> Capacity {
    Capacity::measured(cpus, memory, disk_free)
}

/// The hello of a node that can do everything optional (grow a disk live and the rest), with
/// room for a large fleet.
pub fn hello(host: &str) -> NodeInfo {
    NodeInfo {
        protocol_version: PROTOCOL_VERSION,
        node_version: "test".into(),
        hostname: host.into(),
        kernel: "6.0".into(),
        cgroup_version: 2,
        features: Features {
            loop_devices: true,
            overlayfs: true,
            criu: true,
            criu_mem_dirty_track: false,
            criu_version: Some("4.2".into()),
            busybox: true,
            io_weight: true,
            io_weight_file: fleet_protocol::WeightFile::IoBfqWeight,
            online_disk_grow: true,
            devices_live: true,
            raw_chunks: true,
            user_quota: true,
            notes: Vec::new(),
        },
        capacity: capacity(64, 256 << 30, 1 << 40),
        interrupted_batch: None,
        supervisor: Some(fleet_protocol::SupervisorInfo {
            pid: 1,
            since: "2026-12-01T00:00:00Z".into(),
        }),
    }
}

/// Every host of `fleet` reachable (its node as [`hello`] says) and empty.
pub fn empty_observation(fleet: &Fleet) -> Observed {
    Observed {
        hosts: fleet
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    HostObservation::Reachable {
                        node: Some(hello(&h.name)),
                        containers: Vec::new(),
                    },
                )
            })
            .collect(),
    }
}

/// The hello of reachable `host` in `obs`, to change what a test's node says about itself.
pub fn hello_mut<'a>(obs: &'a mut Observed, host: &str) -> &'a mut NodeInfo {
    match obs.hosts.get_mut(host) {
        Some(HostObservation::Reachable { node: Some(n), .. }) => n,
        _ => panic!("{host} is not a reachable host with a hello"),
    }
}

/// The containers reachable `host` reports in `obs`, to change what a test's node says of them.
pub fn containers_mut<'a>(obs: &'a mut Observed, host: &str) -> &'a mut Vec<ContainerStatus> {
    match obs.hosts.get_mut(host) {
        Some(HostObservation::Reachable { containers, .. }) => containers,
        _ => panic!("{host} is not a reachable host"),
    }
}

/// The observation after a perfect apply of `fleet`: every container running where pinned.
pub fn converged_observation(fleet: &Fleet) -> Observed {
    let mut obs = empty_observation(fleet);
    for (i, c) in fleet.containers.iter().enumerate() {
        let host = c.host.as_deref().unwrap_or_default();
        if let Some(HostObservation::Reachable { containers, .. }) = obs.hosts.get_mut(host) {
            containers.push(running(&c.spec, 1000 + i as i32));
        }
    }
    obs
}

/// `containers` containers spread round-robin over `hosts` hosts, one in ten depending on a
/// container of the next host (cross-host dependencies).
pub fn large(hosts: usize, containers: usize) -> Fleet {
    let host_names: Vec<String> = (0..hosts).map(|h| format!("host-{h:04}")).collect();
    let mut list = Vec::with_capacity(containers);
    for i in 0..containers {
        let h = i % hosts;
        let mut c = pinned(spec("big", &format!("ct-{i:05}")), &host_names[h]);
        if i % 10 == 0 && i >= hosts {
            c.depends_on.push(format!("ct-{:05}", i - hosts + 1));
        }
        list.push(c);
    }
    fleet("big", host_names.iter().map(|h| host(h)).collect(), list)
}
