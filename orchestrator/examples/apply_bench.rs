//! Benchmark: `fleet apply` over 10 local sshd hosts with 50 containers each: the wall time of a
//! no-op apply and of a live memory change on all 500, and, if `ansible-playbook` is installed,
//! an Ansible playbook doing the same cgroup writes (one loop item per container) over the same
//! sshds, for the ratio.
//!
//! Needs root, /usr/sbin/sshd, and `fleet` and `fleet-node` built in the same profile:
//! `cargo build --release -p fleet -p fleet-node --bins --examples` then
//! `target/release/examples/apply_bench [HOSTS PER_HOST]`. Figures go in docs/reconciler.md;
//! this is a benchmark, not a test.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{fleet, sshd, write_spec};

fn spec(cluster: &sshd::Cluster, per_host: usize, memory: &str) -> String {
    let mut containers = "containers:\n".to_string();
    for i in 0..cluster.sshds.len() {
        containers.push_str(&format!(
            "  - name: b{i}-{{01..{per_host:02}}}\n    template: busybox\n    \
             command: [\"/bin/sleep\", \"1000000\"]\n    host: node-{i}\n    resources:\n      \
             memory: {memory}\n      cpu: {{limit: 1%}}\n"
        ));
    }
    write_spec(
        cluster,
        &format!("bench-{memory}.yaml"),
        "bench",
        cluster.sshds.len(),
        "{cpus: 64, memory: 64Gi}",
        &containers,
    )
}

fn ansible(cluster: &sshd::Cluster, per_host: usize, value: u64) -> Option<Duration> {
    let which = Command::new("ansible-playbook").arg("--version").output();
    if !which.is_ok_and(|o| o.status.success()) {
        eprintln!("ansible-playbook not installed: no Ansible comparison");
        return None;
    }
    let dir = cluster.dir.path();
    let mut inventory = "[nodes]\n".to_string();
    for (i, s) in cluster.sshds.iter().enumerate() {
        inventory.push_str(&format!(
            "node-{i} ansible_host={} ansible_port={} ansible_user=root \
             ansible_ssh_private_key_file={} cg={}-{i} prefix=b{i}\n",
            s.address,
            s.port,
            cluster.identity.display(),
            cluster.cgroup_prefix
        ));
    }
    std::fs::write(dir.join("inventory"), inventory).ok()?;
    // One loop item per container, as an operator would write it: check the limit, write it if
    // it differs.
    let playbook = format!(
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - name: memory limit\n      \
         shell: \"f=/sys/fs/cgroup/memory/{{{{ cg }}}}/{{{{ prefix }}}}-{{{{ '%02d' | format(item) }}}}/memory.limit_in_bytes; \
         [ $(cat $f) = {value} ] && echo same || {{ echo {value} > $f; echo changed; }}\"\n      \
         register: r\n      changed_when: \"'changed' in r.stdout\"\n      \
         loop: \"{{{{ range(1, {per_host} + 1) | list }}}}\"\n"
    );
    std::fs::write(dir.join("playbook.yaml"), playbook).ok()?;
    let start = Instant::now();
    let out = Command::new("ansible-playbook")
        .arg("-i")
        .arg(dir.join("inventory"))
        .arg(dir.join("playbook.yaml"))
        .arg("--forks=10")
        .env(
            "ANSIBLE_SSH_ARGS",
            format!(
                "-o UserKnownHostsFile={} -o ControlMaster=auto -o ControlPersist=60s",
                cluster.known_hosts.display()
            ),
        )
        .env("ANSIBLE_PIPELINING", "True")
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .output()
        .ok()?;
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let recap: String = text
        .lines()
        .filter(|l| l.contains("ok=") || l.contains("failed"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("ansible recap (first lines):\n{recap}");
    out.status.success().then_some(took)
}

fn main() {
    let args = support::ready();
    let hosts = args.first().copied().unwrap_or(10);
    let per_host = args.get(1).copied().unwrap_or(50);
    let cluster = sshd::Cluster::start(hosts);
    let small = spec(&cluster, per_host, "32Mi");
    let large = spec(&cluster, per_host, "48Mi");
    let n = hosts * per_host;

    let (t, _) = fleet(&["apply", "-f", &small, "--yes"]);
    println!("{n} containers on {hosts} sshd hosts: first apply (create) {t:.2?}");
    let mut noop = Vec::new();
    for _ in 0..5 {
        let (t, out) = fleet(&["apply", "-f", &small, "--yes"]);
        assert!(out.contains("No changes."), "{out}");
        noop.push(t);
    }
    noop.sort();
    println!(
        "no-op apply: median {:.2?}, best {:.2?}, worst {:.2?}",
        noop[2], noop[0], noop[4]
    );
    let mut live = Vec::new();
    for to in [&large, &small, &large] {
        let (t, out) = fleet(&["apply", "-f", to, "--yes"]);
        assert!(out.contains(&format!("{n} to update live")), "{out}");
        live.push(t);
    }
    live.sort();
    println!(
        "live memory change on all {n}: median {:.2?}, best {:.2?}, worst {:.2?}",
        live[1], live[0], live[2]
    );
    // Now at 48Mi. Ansible: a no-op pass (values already right), then a change back to 32Mi.
    if let Some(t) = ansible(&cluster, per_host, 48 << 20) {
        println!(
            "ansible no-op (check {n} cgroup files): {t:.2?} = {:.0}x fleet's no-op apply",
            t.as_secs_f64() / noop[2].as_secs_f64()
        );
    }
    if let Some(t) = ansible(&cluster, per_host, 32 << 20) {
        println!(
            "ansible live change (write {n} cgroup files): {t:.2?} = {:.0}x fleet's live change",
            t.as_secs_f64() / live[1].as_secs_f64()
        );
    }
    let start = Instant::now();
    let _ = fleet(&["destroy", "-f", &small, "--yes"]);
    println!("destroy all {n}: {:.2?}", start.elapsed());
    // The nodes leave their (now empty) cgroup parents behind.
    if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
        for c in controllers.flatten() {
            for i in 0..hosts {
                let _ =
                    std::fs::remove_dir(c.path().join(format!("{}-{i}", cluster.cgroup_prefix)));
            }
        }
    }
}
