//! What goes into the VM image: the Debian suite and packages, the files written into the tree,
//! the units switched off. Pure data; [`crate::image`] carries it out.
//!
//! This file's own text is part of the image's cache key (with the kernel package's version), so
//! any change here builds a new image on the next run.
//!
//! Each VM gets what must differ between VMs (its SSH host key, root's authorized key, its
//! hostname, the addresses of its links to other VMs) through QEMU's fw_cfg, read at boot by
//! `fleet-vm-seed` before sshd starts. The image itself holds no key.

/// Debian 12.
pub const SUITE: &str = "bookworm";

/// Packages on top of mmdebstrap's `minbase` (Essential: yes and apt).
///
/// openssh-server: fleet reaches the host over SSH. busybox-static: fleet-node's busybox
/// template. e2fsprogs, mount: container disks (mkfs.ext4, resize2fs, losetup is in util-linux).
/// iproute2: link addresses at boot. kmod, udev, systemd-sysv: a systemd host as operators run
/// it, loading modules (loop, overlay, veth, bridge, bfq) on demand. procps: ps and friends for
/// checks. criu: Debian's own (3.17.1), for the live move between the VMs (it passes `criu
/// check` on Debian's kernel, unlike on this machine's); iptables: criu's network lock for
/// established TCP connections runs ip6tables-restore (without it the dump fails). quota: the
/// standard tools (setquota, quota, repquota) container root runs on a `disk.user_quota` disk,
/// through the host template.
pub const PACKAGES: &[&str] = &[
    "criu",
    "quota",
    "iptables",
    "openssh-server",
    "busybox-static",
    "e2fsprogs",
    "mount",
    "iproute2",
    "kmod",
    "udev",
    "systemd-sysv",
    "procps",
];

/// dpkg path filters: documentation and translations are never read in a test VM.
pub const DPKG_EXCLUDES: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
];

/// Size of the root file system (a sparse file: only what is written takes space).
pub const ROOT_SIZE: &str = "4G";

/// Files written into the tree: path, mode, content.
pub const FILES: &[(&str, u32, &str)] = &[
    ("etc/hostname", 0o644, "fleet-vm\n"),
    (
        "etc/fstab",
        0o644,
        "/dev/vda / ext4 rw,errors=remount-ro 0 1\n",
    ),
    // fw_cfg's sysfs interface is a module in Debian's cloud kernel.
    ("etc/modules-load.d/fleet-vm.conf", 0o644, "qemu_fw_cfg\n"),
    (
        "etc/ssh/sshd_config.d/fleet-vm.conf",
        0o644,
        "# Only the per-VM key from fw_cfg; the package's own keys are removed from the image.\n\
         HostKey /etc/ssh/ssh_host_ed25519_key\n\
         PermitRootLogin prohibit-password\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         # PAM's session modules (motd, logind without dbus) cost seconds per login under TCG.\n\
         UsePAM no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         UseDNS no\n\
         MaxStartups 64\n\
         MaxSessions 64\n",
    ),
    // Debian's ssh.service runs `sshd -t` before sshd, a second start of sshd within the unit's
    // 41-49 s of boot under TCG at load 20; the config here is fixed, and a bad one still keeps
    // sshd from starting, which the harness reports.
    (
        "etc/systemd/system/ssh.service.d/fleet-vm.conf",
        0o644,
        "[Service]\nExecStartPre=\n",
    ),
    (
        "etc/systemd/journald.conf.d/fleet-vm.conf",
        0o644,
        "[Journal]\nStorage=volatile\n",
    ),
    ("usr/local/sbin/fleet-vm-seed", 0o755, SEED),
    (
        "etc/systemd/system/fleet-vm-seed.service",
        0o644,
        "[Unit]\n\
         Description=Fleet VM identity from fw_cfg (host key, authorized key, hostname)\n\
         DefaultDependencies=no\n\
         After=local-fs.target systemd-modules-load.service\n\
         Before=sysinit.target ssh.service\n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/usr/local/sbin/fleet-vm-seed\n\
         [Install]\n\
         WantedBy=sysinit.target\n",
    ),
    ("usr/local/sbin/fleet-vm-net", 0o755, NET),
    (
        "etc/systemd/system/fleet-vm-net@.service",
        0o644,
        "[Unit]\n\
         Description=Fleet VM address on %I\n\
         BindsTo=sys-subsystem-net-devices-%i.device\n\
         After=sys-subsystem-net-devices-%i.device fleet-vm-seed.service\n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/usr/local/sbin/fleet-vm-net %I\n",
    ),
    // Every NIC gets its unit when it appears (eth0: the user network; eth1..: links).
    (
        "etc/udev/rules.d/90-fleet-vm-net.rules",
        0o644,
        "SUBSYSTEM==\"net\", ACTION==\"add\", KERNEL==\"eth*\", TAG+=\"systemd\", \
         ENV{SYSTEMD_WANTS}+=\"fleet-vm-net@%k.service\"\n",
    ),
];

/// Installs this VM's identity from fw_cfg. Runs before sshd; fails loudly if the harness
/// passed no key (sshd then has no host key and does not start, so nothing unverified answers).
const SEED: &str = r#"#!/bin/sh
# Copies this VM's own identity from QEMU's fw_cfg (the test harness passes it with -fw_cfg
# name=opt/fleet/...) into place before sshd starts.
set -eu
d=/sys/firmware/qemu_fw_cfg/by_name/opt/fleet
modprobe qemu_fw_cfg
if [ ! -d "$d" ]; then
    echo "fleet-vm-seed: no fw_cfg entries under $d" >&2
    exit 1
fi
install -m 600 "$d/host_key/raw" /etc/ssh/ssh_host_ed25519_key
install -m 644 "$d/host_key.pub/raw" /etc/ssh/ssh_host_ed25519_key.pub
install -d -m 700 /root/.ssh
install -m 600 "$d/authorized_keys/raw" /root/.ssh/authorized_keys
if [ -e "$d/hostname/raw" ]; then
    cat "$d/hostname/raw" > /proc/sys/kernel/hostname
    install -m 644 "$d/hostname/raw" /etc/hostname
fi
"#;

/// Gives one interface its static address: eth0 the user network's (where QEMU forwards sshd),
/// others the address the harness passed as `opt/fleet/addr-<interface>` (none: left down).
const NET: &str = r#"#!/bin/sh
# fleet-vm-net IFACE: static address, no default route (QEMU's user network is restrict=on:
# nothing outside this machine is reachable from a test VM anyway).
set -eu
if [ "$1" = eth0 ]; then
    addr=10.0.2.15/24
else
    f=/sys/firmware/qemu_fw_cfg/by_name/opt/fleet/addr-$1/raw
    [ -e "$f" ] || exit 0
    addr=$(cat "$f")
fi
ip addr replace "$addr" dev "$1"
ip link set "$1" up
"#;

/// Units enabled by symlink: (wants directory, unit).
pub const ENABLE: &[(&str, &str)] = &[("sysinit.target.wants", "fleet-vm-seed.service")];

/// Units masked: nothing a test host needs, and each costs seconds of boot under TCG (gettys,
/// timers, networkd: addresses come from `fleet-vm-net`, persistent journal, random seed).
pub const MASK: &[&str] = &[
    "getty-static.service",
    "getty@tty1.service",
    "serial-getty@ttyS0.service",
    "systemd-networkd.service",
    "systemd-networkd-wait-online.service",
    "systemd-journal-flush.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-pstore.service",
    "systemd-random-seed.service",
    "systemd-tmpfiles-clean.timer",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "fstrim.timer",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "dev-hugepages.mount",
    "modprobe@dm_mod.service",
    "modprobe@fuse.service",
    "modprobe@drm.service",
    "modprobe@efi_pstore.service",
    "modprobe@configfs.service",
];

/// Paths removed from the tree: the host keys openssh-server's postinst made (every VM would
/// share them; each gets its own through fw_cfg).
pub const REMOVE: &[&str] = &[
    "etc/ssh/ssh_host_ecdsa_key",
    "etc/ssh/ssh_host_ecdsa_key.pub",
    "etc/ssh/ssh_host_ed25519_key",
    "etc/ssh/ssh_host_ed25519_key.pub",
    "etc/ssh/ssh_host_rsa_key",
    "etc/ssh/ssh_host_rsa_key.pub",
];

/// The kernel command line. `net.ifnames=0` keeps the NICs eth0, eth1, ... in the order the
/// harness adds them. `no_timer_check`: under TCG on a loaded host the emulated timer can miss
/// the kernel's early IO-APIC timer check, which then panics ("IO-APIC + timer doesn't work");
/// the check proves nothing about a virtual timer, and KVM guests skip it too.
pub const KERNEL_ARGS: &str = "console=ttyS0 root=/dev/vda rw quiet net.ifnames=0 \
     systemd.show_status=false no_timer_check";

/// MAC address of VM `vm`'s NIC `nic` (0: the user network, 1..: links): locally administered,
/// QEMU's prefix, unique on one machine for 256 VMs with 255 NICs each.
pub fn mac(vm: usize, nic: usize) -> String {
    format!("52:54:00:fe:{:02x}:{:02x}", vm % 256, nic % 256)
}
