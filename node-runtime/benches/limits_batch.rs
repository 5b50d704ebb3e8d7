//! Benchmark: change the limits of 500 running cgroups in one batch (goal under 1 s) and read
//! the beancounters of 500 (goal under 200 ms), on this host's real cgroups; then the same
//! through the node's own verbs on 500 real busybox containers (`Runtime::update` per container,
//! as one protocol `Apply` batch runs them, then `Runtime::counters` and `Runtime::list`).
//!
//! Run as root: `cargo bench -p fleet-node --bench limits_batch` (`FLEET_BENCH_N` changes the
//! count; `FLEET_BENCH_CONTAINERS=0` skips the container phase, `FLEET_BENCH_CGROUPS=0` the raw
//! cgroup phase, which makes its groups without enabling v2 controllers in them). Each cgroup holds one `sleep`
//! so that it is a running group, as a container's would. Everything made (cgroups under
//! `fleet-bench-<pid>`, the sleeps, the containers and their temp root) is removed at the end,
//! also on a panic. Figures go to docs/limits.md by hand.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleet_protocol::{ContainerSpec, Resources, TemplateRef};
use node_runtime::Runtime;
use node_runtime::counters;
use node_runtime::limits::{self, CgroupDirs, CgroupVersion, Controller, Dirs, HostCgroups};

struct Bench {
    parents: Vec<PathBuf>,
    groups: Vec<Dirs>,
    sleeps: Vec<Child>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        for child in &mut self.sleeps {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dirs: Vec<PathBuf> = self
            .groups
            .iter()
            .flat_map(|g| Controller::ALL.iter().filter_map(|&c| g.controller_dir(c)))
            .collect();
        for dir in dirs.iter().chain(self.parents.iter()) {
            for _ in 0..100 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn limits_for(i: usize, round: u64) -> Resources {
    Resources {
        cpu_units: Some(500 + (i as u32 % 50) * 100 + round as u32 * 10),
        cpu_limit: Some(50 + round as u32 * 10),
        memory: Some((256 + round * 64) << 20),
        swap: Some(64 << 20),
        pids: Some(100 + round),
        ..Resources::default()
    }
}

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`: the test suite must
    // not make 500 containers.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "limits_batch: a benchmark; run it with `cargo bench -p fleet-node --bench limits_batch`"
        );
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("limits_batch: needs root (writes real cgroups); skipped");
        return;
    }
    let n: usize = std::env::var("FLEET_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    if std::env::var("FLEET_BENCH_CGROUPS").as_deref() != Ok("0") {
        cgroups_phase(n);
    }
    if std::env::var("FLEET_BENCH_CONTAINERS").as_deref() != Ok("0") {
        containers_phase(n);
    }
}

/// Limits and counters on `n` bare cgroups, each holding one `sleep`.
fn cgroups_phase(n: usize) {
    let host = HostCgroups::detect();
    let parent = format!("fleet-bench-{}", std::process::id());
    let root = host.cgroup(&parent);
    let mut bench = Bench {
        parents: Controller::ALL
            .iter()
            .filter_map(|&c| root.controller_dir(c))
            .collect(),
        groups: Vec::new(),
        sleeps: Vec::new(),
    };
    bench.parents.sort();
    bench.parents.dedup();
    for dir in &bench.parents {
        std::fs::create_dir(dir).expect("mkdir bench parent");
    }
    seed_cpuset(&root);
    let started = Instant::now();
    for i in 0..n {
        let group = host.cgroup(&format!("{parent}/c{i}"));
        let mut dirs: Vec<PathBuf> = Controller::ALL
            .iter()
            .filter_map(|&c| group.controller_dir(c))
            .collect();
        dirs.dedup();
        for dir in &dirs {
            std::fs::create_dir(dir).expect("mkdir bench cgroup");
        }
        seed_cpuset(&group);
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        for dir in &dirs {
            std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).expect("attach");
        }
        bench.sleeps.push(child);
        bench.groups.push(group);
    }
    println!(
        "setup: {n} cgroups (v{}) with one sleep each in {:?}",
        host.version.number(),
        started.elapsed()
    );

    for round in 0..3u64 {
        let started = Instant::now();
        for (i, group) in bench.groups.iter().enumerate() {
            limits::apply(group, &limits_for(i, round)).expect("apply");
        }
        let took = started.elapsed();
        println!(
            "apply limits, batch {round}: {n} cgroups in {took:?} ({:?} each)",
            took / n as u32
        );
    }
    let started = Instant::now();
    for group in &bench.groups {
        limits::read_live(group).expect("read_live");
    }
    println!("read_live: {n} cgroups in {:?}", started.elapsed());

    for round in 0..3 {
        let started = Instant::now();
        let all: Vec<counters::ContainerCounters> = bench
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| counters::read(&format!("c{i}"), g, None).expect("counters"))
            .collect();
        let read_took = started.elapsed();
        let text = counters::render_text(&all);
        let json = serde_json::to_string(&all).expect("json");
        println!(
            "counters, run {round}: read {n} in {read_took:?}, with text ({} B) and JSON ({} B) in {:?}",
            text.len(),
            json.len(),
            started.elapsed()
        );
    }
    if host.version == CgroupVersion::V1 {
        println!(
            "(cgroup v1: each container's limits span the cpu, cpuset, memory, pids and blkio hierarchies)"
        );
    }
    drop(bench);
}

/// Containers made by the container phase, destroyed on drop.
struct Containers {
    runtime: Runtime,
    names: Vec<String>,
    parent: String,
    _root: tempfile::TempDir,
}

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.names {
            // `sleep` as PID 1 ignores SIGTERM: kill at once instead of waiting out the timeout.
            let _ = self.runtime.stop(name, Duration::ZERO);
            let _ = self.runtime.destroy(name);
        }
        self.runtime.cgroups.remove_parent(&self.parent);
    }
}

fn container_spec(name: &str, resources: Resources) -> ContainerSpec {
    ContainerSpec {
        resources,
        ..ContainerSpec::new(
            "bench",
            name,
            TemplateRef::Busybox,
            vec!["sleep".into(), "infinity".into()],
        )
    }
}

fn containers_phase(n: usize) {
    let root = tempfile::Builder::new()
        .prefix("fleet-limits-bench-")
        .tempdir()
        .expect("temp root");
    let parent = format!("fleet-bench-ct-{}", std::process::id());
    let runtime = Runtime::new(root.path(), &parent).expect("runtime");
    let mut made = Containers {
        runtime: runtime.clone(),
        names: Vec::new(),
        parent,
        _root: root,
    };
    let started = Instant::now();
    for i in 0..n {
        let name = format!("b{i}");
        runtime
            .create(&container_spec(&name, limits_for(i, 0)))
            .expect("create container");
        made.names.push(name);
    }
    println!(
        "containers: {n} busybox containers created and started in {:?}",
        started.elapsed()
    );
    for round in 1..3u64 {
        let started = Instant::now();
        for (i, name) in made.names.iter().enumerate() {
            let changed = runtime
                .update(&container_spec(name, limits_for(i, round)), false)
                .expect("update");
            assert!(changed);
        }
        let took = started.elapsed();
        println!(
            "containers: live update of {n} (Runtime::update, as one Apply batch) in {took:?} ({:?} each)",
            took / n as u32
        );
    }
    let started = Instant::now();
    let all = runtime.counters(None).expect("counters");
    println!(
        "containers: counters for {} in {:?}",
        all.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let listed = runtime.list().expect("list");
    println!(
        "containers: list with live limits for {} in {:?}",
        listed.len(),
        started.elapsed()
    );
}

/// A v1 cpuset takes no task until it has CPUs and memory nodes; copy the parent's.
fn seed_cpuset(group: &Dirs) {
    if group.version() != CgroupVersion::V1 {
        return;
    }
    if let Some(dir) = group.controller_dir(Controller::Cpuset) {
        let parent = dir.parent().expect("parent").to_path_buf();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let v = std::fs::read_to_string(parent.join(f)).expect("read parent cpuset");
            std::fs::write(dir.join(f), v.trim()).expect("seed cpuset");
        }
    }
}
