//! The VM tier: one linked pair of real Debian 12 hosts (see the `fleet_vm` crate), booted once,
//! and every VM check run on it in phases, driven through `fleet` only. One boot and one
//! bootstrap for the whole tier: a boot under TCG costs 16 s of wall time on an idle machine and
//! minutes under load, and a bootstrap pushes fleet-node through an emulated sshd. Phases on
//! different VMs run side by side; each prints its time, and a failure names its phase.
//!
//! - both: the harness ([`smoke`]): real hosts, no way out, the link, pinned host keys.
//! - vm-0 (2 vCPUs): `fleet bootstrap`, then every cgroup v2 limit ([`limits_v2`]), then
//!   granted devices under the eBPF device program ([`devices_v2`]), then second-level quotas
//!   set by container root ([`quotas`]).
//! - vm-1 (1 vCPU): the .deb installed with `apt install` ([`package`]), then, driven by `fleet
//!   apply` through the packaged node: the cgroup v2 attack ([`cgroup_v2_attack`]), crashes by
//!   restart policy, the tier's one reboot, after which the package's unit has brought the onboot
//!   containers back ([`reboot`]); then a poweroff.
//! - both, between those: a live move from vm-0 to vm-1 with Debian's criu and pre-dump
//!   rounds, and back without them ([`live_move`]).
//!
//! See docs/decisions.md, "VM test tier", for the figures.

mod cgroup_v2_attack;
mod devices_v2;
mod limits_v2;
mod live_move;
mod package;
mod quotas;
mod reboot;
mod smoke;

use std::sync::Mutex;
use std::time::Duration;

use fleet_vm::image::Image;
use fleet_vm::phase::{Phases, parallel};
use fleet_vm::{Cluster, VmOptions, skip_unless_ready};

#[test]
fn the_vm_tier_on_one_linked_pair() {
    if skip_unless_ready() {
        return;
    }
    let mut phases = Phases::new();
    phases.run("image", || {
        Image::get();
    });
    // The .deb is made on this side while the VMs boot (QEMU must start from this thread).
    let deb_dir = tempfile::Builder::new()
        .prefix("fleet-vm-deb-")
        .tempdir()
        .expect("temp dir");
    let out = deb_dir.path().to_owned();
    let building = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let deb = package::build(&out);
        (deb, started.elapsed())
    });
    let mut cluster = phases.run("boot", || {
        let big = VmOptions {
            cpus: 2,
            memory_mib: 2048,
        };
        Cluster::boot_linked(&[big, VmOptions::default()], &[(0, 1)])
    });
    let (deb, built_in) = phases.run("build-deb (beside the boot)", || {
        building.join().expect("scripts/build-deb")
    });
    eprintln!(
        "fleet-vm: scripts/build-deb took {:.1} s beside the boot",
        built_in.as_secs_f64()
    );
    phases.run("harness", || smoke::hosts_are_real_and_closed(&cluster));
    phases.run("host keys", || smoke::host_keys_are_pinned(&cluster));
    let c = &cluster;
    let deb_path = &deb;
    let version = Mutex::new(String::new());
    let v = &version;
    let results = parallel(vec![
        (
            "vm-0",
            Box::new(move || {
                Phases::new().run("bootstrap (vm-0)", || smoke::bootstrap(c, &["vm-0"]))
            }),
        ),
        (
            "vm-1",
            Box::new(move || {
                let got = Phases::new().run("apt install ./fleet-node_*.deb (vm-1)", || {
                    package::install(c, "vm-1", deb_path)
                });
                *v.lock().unwrap() = got;
            }),
        ),
    ]);
    phases.record_parallel(results);
    let version = version.into_inner().unwrap();
    phases.run("fleet sees the packaged node (vm-1)", || {
        package::fleet_sees_the_packaged_node(&mut cluster, "vm-1", &version)
    });

    let reboot_spec = reboot::spec(&cluster);
    let before_reboot = Mutex::new(Vec::new());
    let c = &cluster;
    let (spec, before) = (&reboot_spec, &before_reboot);
    let results = parallel(vec![
        (
            "vm-0",
            Box::new(move || {
                let mut p = Phases::new();
                p.run("limits (vm-0)", || {
                    limits_v2::every_v2_limit_is_set_and_changed_live_and_counted(c)
                });
                p.run("devices (vm-0)", || {
                    devices_v2::granted_devices_open_and_others_are_refused_by_the_device_program(c)
                });
                p.run("quotas (vm-0)", || {
                    quotas::container_root_sets_a_user_quota_and_a_write_past_it_fails_inside(c)
                });
            }),
        ),
        (
            "vm-1",
            Box::new(move || {
                let mut p = Phases::new();
                p.run("cgroup v2 attack (vm-1)", || {
                    cgroup_v2_attack::container_root_cannot_raise_its_own_cgroup_v2_limits(c)
                });
                let rows = p.run("crash by policy (vm-1)", || {
                    reboot::crash_by_policy(c, spec)
                });
                *before.lock().unwrap() = rows;
            }),
        ),
    ]);
    phases.record_parallel(results);

    phases.run("live moves (vm-0 -> vm-1 -> vm-0)", || {
        live_move::a_live_move_keeps_the_counter_and_the_connection(&cluster)
    });

    let boot = cluster.vms[1].ready_after.unwrap_or_default();
    let took = phases.run("reboot (vm-1)", || {
        let took = smoke::reboot(&mut cluster.vms[1]);
        // A shutdown held up by an init that ignores SIGTERM waits out systemd's 90 s stop
        // timeout; a clean one takes seconds even under TCG.
        assert!(
            took.shutdown < Duration::from_secs(85),
            "the shutdown took {:?}: held up by a container's init?",
            took.shutdown
        );
        took
    });
    eprintln!(
        "fleet-vm: vm-1: first boot {:.1} s (beside vm-0's), reboot with 6 containers (2 onboot) \
         {:.1} s, {:.1} s of it the shutdown",
        boot.as_secs_f64(),
        took.total.as_secs_f64(),
        took.shutdown.as_secs_f64()
    );
    let before = before_reboot.into_inner().unwrap();
    phases.run("onboot after reboot (vm-1)", || {
        reboot::onboot_containers_came_back(&cluster, &reboot_spec, &before)
    });
    phases.run("poweroff (vm-1)", || smoke::power_off(&mut cluster.vms[1]));
    eprintln!("fleet-vm: the VM tier's phases: {}", phases.summary());
}
