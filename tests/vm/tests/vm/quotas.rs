//! Second-level quotas (`disk.user_quota`, issue 15) on a host whose kernel has the QFMT_V2
//! quota format (Debian's, `quota_v2` as a module): on vm-0, an unprivileged container of the
//! host template (so the VM's quota tools are there inside) with its root on its own ext4.
//! Container root sets a user quota with the standard `setquota` on `/`, `quota` reads it back,
//! and a write as that user past the hard limit fails inside with EDQUOT, while root's own
//! write goes on; a group quota holds a member of the group under another uid; `repquota`
//! lists both; the broker refuses another device's name (the VM's own disk).

use fleet_vm::Cluster;

/// The VM this phase runs on.
const HOST: &str = "vm-0";

/// The user the quota is for (no account needed: the tools take a number).
const USER: &str = "1000";

fn spec(cluster: &Cluster) -> String {
    let containers = format!(
        "  - name: quotas\n    template: host\n    command: [\"/bin/sleep\", \"1000000\"]\n    \
         host: {HOST}\n    resources:\n      disk: {{space: 64Mi, user_quota: true}}\n"
    );
    cluster
        .write_spec_on("quotas.yaml", "quotas", &[HOST], &containers)
        .display()
        .to_string()
}

/// Runs `script` with `sh -c` in the container; its output and exit code.
fn sh(cluster: &Cluster, spec: &str, script: &str) -> (String, i32) {
    let out = cluster.fleet(&["exec", "quotas", "-f", spec, "--", "/bin/sh", "-c", script]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.code().unwrap_or(-1))
}

/// The phase.
pub fn container_root_sets_a_user_quota_and_a_write_past_it_fails_inside(cluster: &Cluster) {
    let vm = cluster.vm(HOST);
    let spec = spec(cluster);
    cluster.fleet_ok(&["apply", "-f", &spec, "--yes"]);
    let broker_log = || {
        vm.ssh
            .run(&["cat", "/var/lib/fleet-node/containers/quotas/quota.log"])
            .stdout
    };
    let fail = |what: &str, seen: &str| -> ! {
        panic!(
            "{what}: {seen}\nthe broker's log: {}",
            String::from_utf8_lossy(&broker_log())
        )
    };

    // The root is the container's ext4, as the tools need it.
    let (mounts, _) = sh(cluster, &spec, "grep ' / ' /proc/self/mounts");
    if !mounts.contains(" / ext4 ") || !mounts.contains("usrquota") {
        fail("the root is the disk's ext4 with usrquota", &mounts);
    }

    // 1 MiB soft and hard, in 1 KiB blocks; no inode limits.
    let (out, code) = sh(
        cluster,
        &spec,
        // (-v: without it quota lists only what the user has used)
        &format!("setquota -u {USER} 1024 1024 0 0 / && quota -v -w -u {USER}"),
    );
    if code != 0 || !out.contains("1024") {
        fail("setquota and quota as container root", &out);
    }

    // The user's write past its limit fails inside; root's does not.
    let write = format!(
        "mkdir -p /srv/q && chown {USER}:{USER} /srv/q && \
         setpriv --reuid {USER} --regid {USER} --clear-groups \
         dd if=/dev/zero of=/srv/q/big bs=64k count=64 conv=fsync"
    );
    let (out, code) = sh(cluster, &spec, &write);
    if code == 0 || !out.contains("Disk quota exceeded") {
        fail("a write of 4 MiB past a 1 MiB quota", &out);
    }
    let (out, code) = sh(
        cluster,
        &spec,
        "dd if=/dev/zero of=/srv/root-big bs=64k count=64 conv=fsync && rm /srv/root-big",
    );
    if code != 0 {
        fail("root is not held by the user's quota", &out);
    }

    // A group quota holds a member of the group under another uid; repquota lists both.
    let group = format!(
        "setquota -g {USER} 2048 2048 0 0 / && mkdir -p /srv/g && chown 2000:{USER} /srv/g && \
         chmod 2775 /srv/g && setpriv --reuid 2000 --regid {USER} --clear-groups \
         dd if=/dev/zero of=/srv/g/big bs=64k count=64 conv=fsync"
    );
    let (out, code) = sh(cluster, &spec, &group);
    if code == 0 || !out.contains("Disk quota exceeded") {
        fail("a write of 4 MiB past the group's 2 MiB quota", &out);
    }
    for (kind, limit) in [("-u", "1024"), ("-g", "2048")] {
        let (out, code) = sh(cluster, &spec, &format!("repquota {kind} -n /"));
        let listed = out.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.first() == Some(&format!("#{USER}").as_str()) && words.contains(&limit)
        });
        if code != 0 || !listed {
            fail(&format!("repquota {kind} lists the limit {limit}"), &out);
        }
    }

    // The broker's own cost, for docs/limits.md.
    let broker = vm
        .ssh
        .ok(&["sh", "-c", "ps -eo rss=,args= | grep '[q]uota-broker'"]);
    eprintln!(
        "fleet-vm: the quota broker (RSS KiB, command): {}",
        broker.trim()
    );

    // Only the container's own disk: the VM's disk is another device, never reached.
    let (out, code) = sh(
        cluster,
        &spec,
        &format!("setquota -u {USER} 1 1 0 0 /dev/vda"),
    );
    if code == 0 {
        fail("setquota on the host's disk", &out);
    }
    cluster.fleet_ok(&["destroy", "-f", &spec, "--yes"]);
}
