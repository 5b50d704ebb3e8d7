//! Generates a large fleet spec:
//! `cargo run --release -p fleet --example gen_spec -- HOSTS CONTAINERS [--shape SHAPE] [--local]
//! > fleet.yaml`, where SHAPE is one of
//! - `pinned` (the default): each container its own entry pinned to a host, with a profile,
//!   overrides, labels, env and an address, so the loader does its full work per container;
//! - `inventory`: each container its own entry as a generator from an inventory would write it:
//!   labels, a selector on the hosts' zone label, memory, pids, cpu units and limit, disk; no host
//!   pinned, so every one goes through the placement checks;
//! - `sets`: the same fleet written as sets of 100 members (`app-0042-{001..100}`).
//!
//! `specs/fleet-500.yaml` was made with `-- 10 500 --local` (local hosts have no network).

use std::fmt::Write as _;

/// How the containers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub enum Shape {
    /// One entry per container, pinned, with profile, env and an address.
    Pinned,
    /// One entry per container with a zone selector and its own resources.
    Inventory,
    /// Sets of 100 members with a zone selector.
    Sets,
}

impl Shape {
    /// Reads a `--shape` value.
    #[allow(dead_code)]
    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "pinned" => Some(Shape::Pinned),
            "inventory" => Some(Shape::Inventory),
            "sets" => Some(Shape::Sets),
            _ => None,
        }
    }
}

/// Zones the hosts are spread over (the inventory and sets shapes select on them).
const ZONES: usize = 3;
/// Members of each set in the `sets` shape.
const SET_SIZE: usize = 100;

/// The spec text for `hosts` hosts and `containers` containers spread round-robin over them,
/// in the pinned shape.
#[allow(dead_code)]
pub fn generate(hosts: usize, containers: usize, local: bool) -> String {
    generate_shape(hosts, containers, local, Shape::Pinned)
}

/// The spec text for `hosts` hosts and `containers` containers written in `shape`.
pub fn generate_shape(hosts: usize, containers: usize, local: bool, shape: Shape) -> String {
    let mut s = String::with_capacity(containers * 400 + hosts * 300);
    s.push_str("apiVersion: fleet/v1\nfleet: big\n\nprofiles:\n");
    for (name, mem, units) in [
        ("tiny", "64Mi", 500),
        ("web", "512Mi", 1000),
        ("db", "2Gi", 4000),
    ] {
        let _ = writeln!(
            s,
            "  - name: {name}\n    extends: basic\n    memory: {mem}\n    cpu: {{units: {units}, limit: 50%}}"
        );
    }
    s.push_str("\nhosts:\n");
    for h in 0..hosts {
        write_host(&mut s, h, local);
    }
    s.push_str("\ncontainers:\n");
    match shape {
        Shape::Pinned => (0..containers).for_each(|c| write_pinned(&mut s, c, hosts, local)),
        Shape::Inventory => (0..containers).for_each(|c| write_inventory(&mut s, c)),
        Shape::Sets => {
            for set in 0..containers.div_ceil(SET_SIZE) {
                let members = SET_SIZE.min(containers - set * SET_SIZE);
                write_set(&mut s, set, members);
            }
        }
    }
    s
}

fn write_host(s: &mut String, h: usize, local: bool) {
    if local {
        let _ = writeln!(
            s,
            "  - name: host-{h:03}\n    transport: local\n    labels: {{zone: z{}}}\n    overcommit: {{cpu: 20, memory: 10}}\n    node: {{root: /var/lib/fleet-big/{h:03}, cgroup_parent: fleet-big-{h:03}}}",
            h % ZONES
        );
    } else {
        let _ = writeln!(
            s,
            "  - name: host-{h:03}\n    address: 10.{}.{}.{}\n    labels: {{zone: z{}, rack: r{}}}\n    capacity: {{cpus: 64, memory: 512Gi, disk: 8Ti}}\n    overcommit: {{cpu: 4, memory: 1.5}}",
            h / 65536 % 256,
            h / 256 % 256,
            h % 256,
            h % ZONES,
            h % 20
        );
    }
}

fn write_pinned(s: &mut String, c: usize, hosts: usize, local: bool) {
    let profile = ["tiny", "web", "db"][c % 3];
    let _ = write!(
        s,
        "  - name: ct-{c:05}\n    template: busybox\n    profile: {profile}\n    host: host-{:03}\n    command: [\"/bin/sleep\", \"1000000\"]\n    hostname: \"{{name}}.big\"\n    env: {{ROLE: {profile}, SLOT: \"{c}\"}}\n    labels: {{app: a{}, tier: {profile}}}\n    resources:\n      pids: {}\n      disk: {{space: 256Mi}}\n",
        c % hosts.max(1),
        c % 50,
        100 + c % 400,
    );
    // Local fleets stay off the network: no bridge is made on the machine they run on.
    if !local {
        let _ = writeln!(
            s,
            "    network:\n      bridge: fleet0\n      addresses: [\"10.{}.{}.{}/8\"]",
            100 + c / 65536 % 100,
            c / 256 % 256,
            c % 256
        );
    }
}

/// Sizes an inventory hands out, by container class.
const CLASSES: [(&str, &str, u32, &str); 4] = [
    ("256Mi", "1Gi", 500, "25%"),
    ("512Mi", "2Gi", 1000, "50%"),
    ("1Gi", "4Gi", 1000, "100%"),
    ("2Gi", "8Gi", 2000, "200%"),
];

fn write_inventory(s: &mut String, c: usize) {
    let (memory, disk, units, limit) = CLASSES[c % CLASSES.len()];
    let _ = write!(
        s,
        "  - name: svc-{c:06}\n    template: busybox\n    command: [\"/bin/sleep\", \"infinity\"]\n    labels: {{app: app-{:04}, team: team-{:02}, env: prod}}\n    placement:\n      selector: {{zone: z{}}}\n    resources:\n      memory: {memory}\n      pids: {}\n      cpu: {{units: {units}, limit: {limit}}}\n      disk: {{space: {disk}}}\n",
        c / 100,
        c % 40,
        c % ZONES,
        128 + c % 384,
    );
}

fn write_set(s: &mut String, set: usize, members: usize) {
    let (memory, disk, units, limit) = CLASSES[set % CLASSES.len()];
    let _ = write!(
        s,
        "  - name: app-{set:04}-{{001..{members:03}}}\n    template: busybox\n    command: [\"/bin/sleep\", \"infinity\"]\n    env: {{SLOT: \"{{index}}\"}}\n    labels: {{app: app-{set:04}, team: team-{:02}, env: prod}}\n    placement:\n      selector: {{zone: z{}}}\n      spread: host\n    resources:\n      memory: {memory}\n      pids: {}\n      cpu: {{units: {units}, limit: {limit}}}\n      disk: {{space: {disk}}}\n",
        set % 40,
        set % ZONES,
        128 + set % 384,
    );
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hosts = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let containers = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let local = args.iter().any(|a| a == "--local");
    let shape = match args.iter().position(|a| a == "--shape") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| Shape::parse(s))
            .expect("--shape takes pinned, inventory or sets"),
        None => Shape::Pinned,
    };
    print!("{}", generate_shape(hosts, containers, local, shape));
}
