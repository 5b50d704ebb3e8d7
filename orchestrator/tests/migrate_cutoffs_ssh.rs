//! Cold moves between two real sshd hosts, cut off where move_ssh.rs does not cut them: the
//! orchestrator itself killed while the image travels, the target's file system full; and a
//! bridged container's address, which moves with it.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::fleetctl::{Cleanup, run, wait_within};
use support::moves::{
    OnNode0, apply_the_cold_move, apply_until_the_import_begins, assert_back_on_node_0, exec_ok,
    fill, root, running_on, start_on_node_0, write, write_with,
};
use support::sshd::{Cluster, unique};

#[test]
fn a_killed_orchestrator_loses_nothing_and_the_next_apply_finishes_the_move() {
    let Some(t) = OnNode0::start("move-kill", 24) else {
        return;
    };
    let (cluster, fleet, spec, sum) = (&t.cluster, &t.fleet, &t.spec, &t.sum);

    write(cluster, fleet, 1);
    let (mut apply, _) = apply_until_the_import_begins(cluster, spec);
    apply.kill().expect("kill fleet apply");
    let _ = apply.wait();

    // Whatever the moment, the container's data is still on node-0 and nothing half-received
    // became a container on node-1.
    assert!(
        root(cluster, 0).join("containers/mover").exists(),
        "node-0 keeps the container"
    );
    assert!(
        !root(cluster, 1).join("containers/mover").exists(),
        "nothing half-received is a container"
    );

    apply_the_cold_move(cluster, spec, sum);
}

/// A tmpfs mounted on a node's root for the test, unmounted when dropped.
struct SmallRoot(std::path::PathBuf);

impl SmallRoot {
    fn mount(dir: &Path, size: &str) -> SmallRoot {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs on {}", dir.display());
        SmallRoot(dir.to_path_buf())
    }

    fn used_kib(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=used", "-k"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SmallRoot {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_target_without_room_or_whose_file_system_fills_up_midway_keeps_the_container_on_the_source() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    // node-1's whole root is 16 MiB: its template fits, 24 MiB of random data does not.
    let small = SmallRoot::mount(&root(&cluster, 1), "16m");
    let fleet = format!("move-full-{}", unique());
    let (spec, sum) = start_on_node_0(&cluster, &fleet, 24);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);

    // Too small from the start: refused before any byte travels.
    write(&cluster, &fleet, 1);
    let out = run(&["apply", "-f", spec.to_str().unwrap(), "--yes"]);
    assert_back_on_node_0(&cluster, &out, "no room for mover's disk");

    // Room at the start (the image and the node's 64 MiB margin), filled by something else
    // while the image travels.
    remount(&small, "128m");
    let (apply, _) = apply_until_the_import_begins(&cluster, &spec);
    let pid = running_on(&cluster, 0);
    let filler = root(&cluster, 1).join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=128"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let out = wait_within(
        apply,
        Duration::from_secs(300),
        "the apply whose target fills up",
    );
    assert_back_on_node_0(&cluster, &out, "failed to write the image");
    assert_ne!(
        running_on(&cluster, 0),
        pid,
        "stopped for the move, started again"
    );
    // What was received is gone again: only the filler holds node-1's room.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        small.used_kib() < 8 << 10,
        "node-1 still holds {} KiB",
        small.used_kib()
    );

    // With the room back, the next apply finishes the move.
    apply_the_cold_move(&cluster, &spec, &sum);
}

fn remount(small: &SmallRoot, size: &str) {
    let ok = Command::new("mount")
        .args(["-o", &format!("remount,size={size}")])
        .arg(&small.0)
        .status()
        .unwrap()
        .success();
    assert!(ok, "remount {} with size {size}", small.0.display());
}

/// A bridge made for the test (by the nodes), deleted when dropped.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

fn ping(ip: &str) -> bool {
    (0..5).any(|_| {
        Command::new("busybox")
            .args(["ping", "-c", "1", "-W", "1", ip])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn a_bridged_containers_address_moves_with_it() {
    let Some(cluster) = Cluster::start_if_ready(2) else {
        return;
    };
    let fleet = format!("move-net-{}", unique());
    let tag = unique();
    let bridge = Bridge(format!("flmv{}", &tag[tag.len() - 6..]));
    let net = 20 + std::process::id() % 200;
    let ip = format!("10.248.{net}.5");
    let network = format!(
        "\n    network:\n      bridge: {}\n      addresses: [\"{ip}/24\"]\n      gateway: 10.248.{net}.1",
        bridge.0
    );
    let spec = write_with(&cluster, &fleet, "\n    host: node-0", &network);
    let sum = fill(&cluster, &spec, 1);
    let _cleanup = Cleanup::new(&cluster, &[&spec]);
    assert!(ping(&ip), "the host reaches {ip} on node-0");

    write_with(&cluster, &fleet, "\n    host: node-1", &network);
    apply_the_cold_move(&cluster, &spec, &sum);
    let inside = exec_ok(&spec, "ip addr show eth0");
    assert!(inside.contains(&format!("inet {ip}/24")), "{inside}");
    assert!(ping(&ip), "the host reaches {ip} on node-1");
    let ports: Vec<_> = std::fs::read_dir(format!("/sys/class/net/{}/brif", bridge.0))
        .unwrap()
        .collect();
    assert_eq!(
        ports.len(),
        1,
        "one veth on the bridge: the old one went with the stop"
    );
}
