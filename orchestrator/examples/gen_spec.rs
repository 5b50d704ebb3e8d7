//! Generates a large fleet spec: `cargo run --release -p fleet --example gen_spec -- HOSTS
//! CONTAINERS > fleet.yaml`. Each container is written as its own entry (no sets), with a
//! profile, overrides, labels, env and an address, so the loader does its full work per container.
//! `specs/fleet-500.yaml` was made with `-- 10 500 --local` (local hosts have no network).

use std::fmt::Write as _;

/// The spec text for `hosts` hosts and `containers` containers spread round-robin over them.
pub fn generate(hosts: usize, containers: usize, local: bool) -> String {
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
        if local {
            let _ = writeln!(
                s,
                "  - name: host-{h:03}\n    transport: local\n    labels: {{zone: z{}}}\n    overcommit: {{cpu: 20, memory: 10}}\n    node: {{root: /var/lib/fleet-big/{h:03}, cgroup_parent: fleet-big-{h:03}}}",
                h % 3
            );
        } else {
            let _ = writeln!(
                s,
                "  - name: host-{h:03}\n    address: 10.{}.{}.{}\n    labels: {{zone: z{}, rack: r{}}}\n    capacity: {{cpus: 64, memory: 512Gi, disk: 8Ti}}\n    overcommit: {{cpu: 4, memory: 1.5}}",
                h / 65536 % 256,
                h / 256 % 256,
                h % 256,
                h % 3,
                h % 20
            );
        }
    }
    s.push_str("\ncontainers:\n");
    for c in 0..containers {
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
    s
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hosts = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let containers = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let local = args.iter().any(|a| a == "--local");
    print!("{}", generate(hosts, containers, local));
}
