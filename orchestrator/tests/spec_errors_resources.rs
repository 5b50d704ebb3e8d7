//! Bad resource and device specs in (memory, disk, quota, I/O priority, devices), the exact
//! errors a user sees out, as in spec_errors.rs.

mod spec_check;

use fleet::resolve;
use spec_check::{check, headlines, spec};

#[test]
fn memory_high_above_memory_is_refused_at_memory_high() {
    check(
        &spec(
            "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    resources: {memory: 256Mi, memory_high: 512Mi}\n",
        ),
        r#"
fleet.yaml:7:45: error: memory_high 512Mi is above memory 256Mi
  |
7 |     resources: {memory: 256Mi, memory_high: 512Mi}
  |                                             ^^^^^
  = hint: memory_high is the soft limit the kernel throttles at; valid is at most memory
"#,
    );
}

#[test]
fn a_disk_the_node_would_refuse_is_refused_where_its_values_are_written() {
    // Issue 13, defect 3: profile small brings 131072 inodes, too many for a 64Mi disk; validate
    // said valid and apply failed on every container.
    check(
        &spec(
            "containers:\n  - name: web-{1..3}\n    template: busybox\n    profile: small\n    command: [x]\n    resources: {disk: {space: 64Mi}}\n",
        ),
        r#"
fleet.yaml:6:14: error: invalid disk.inodes 131072 (from profile "small")
  |
6 |     profile: small
  |              ^^^^^
  = hint: valid for a 64Mi disk is 64..=65536 (one inode per KiB at most); the node would refuse this container
  = note: the disk size it is checked against at fleet.yaml:8:31
"#,
    );
    check(
        &spec(
            "containers:\n  - name: db\n    template: busybox\n    command: [x]\n    resources:\n      disk: {space: 1Gi, inodes: 2000000}\n",
        ),
        r#"
fleet.yaml:8:34: error: invalid disk.inodes 2000000
  |
8 |       disk: {space: 1Gi, inodes: 2000000}
  |                                  ^^^^^^^
  = hint: valid for a 1Gi disk is 64..=1048576 (one inode per KiB at most); the node would refuse this container
  = note: the disk size it is checked against at fleet.yaml:8:21
"#,
    );
}

#[test]
fn user_quota_needs_a_disk_and_a_boolean() {
    check(
        &spec(
            "containers:\n  - name: db\n    template: busybox\n    command: [x]\n    resources:\n      disk: {user_quota: true}\n",
        ),
        r#"
fleet.yaml:8:26: error: invalid disk.user_quota true
  |
8 |       disk: {user_quota: true}
  |                          ^^^^
  = hint: quotas live on the container's own ext4 disk: set disk.space too (such as 1Gi); the node would refuse this container
"#,
    );
    let lines = headlines(&spec(
        "containers:\n  - name: db\n    template: busybox\n    command: [x]\n    resources:\n      disk: {space: 1Gi, user_quota: yes please}\n",
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("fleet.yaml:8:38: error:") && lines[0].contains("disk.user_quota"),
        "{lines:?}"
    );
    let ok = spec(
        "containers:\n  - name: db\n    template: busybox\n    command: [x]\n    resources:\n      disk: {space: 1Gi, user_quota: true}\n",
    );
    let fleet = resolve::load_str("fleet.yaml", &ok).expect("valid");
    assert!(fleet.containers[0].spec.disk.user_quota);
}

#[test]
fn a_malformed_pinned_host_key_is_refused_where_it_is_written() {
    // Issue 13, defect 4: this passed validate and failed only at connect time.
    let lines = headlines(&spec(
        "hosts:\n  - name: h\n    address: 127.0.0.2\n    host_key: \"ssh-ed25519 notbase64!!\"\n",
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("fleet.yaml:6:15: error: host_key must be an OpenSSH public key: "),
        "{lines:?}"
    );
    // A real key (with its comment) is accepted.
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@h";
    let ok = spec(&format!(
        "hosts:\n  - name: h\n    address: 127.0.0.2\n    host_key: \"{key}\"\n"
    ));
    assert!(resolve::load_str("fleet.yaml", &ok).is_ok());
}

#[test]
fn io_priority_is_openvz_s_0_to_7_and_not_beside_a_weight() {
    check(
        &spec(
            "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    resources: {io: {priority: 8}}\n",
        ),
        r#"
fleet.yaml:7:32: error: "io.priority" must be between 0 and 7, found 8
  |
7 |     resources: {io: {priority: 8}}
  |                                ^
"#,
    );
    check(
        &spec(
            "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    resources: {io: {weight: 200, priority: 6}}\n",
        ),
        r#"
fleet.yaml:7:45: error: io.priority 6 and io.weight 200 are both set
  |
7 |     resources: {io: {weight: 200, priority: 6}}
  |                                             ^
  = hint: io.priority 0..7 is written as an I/O weight (docs/limits.md); keep one of the two
"#,
    );
}

#[test]
fn bad_device_grants_are_located_with_what_would_be_valid() {
    let input = spec(
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    security:\n      devices:\n        - /etc/passwd\n        - {path: /dev/fuse, access: rwx}\n        - {path: /dev/net/tun, acess: rw}\n        - /dev/kvm\n        - {path: /dev/kvm, access: r}\n",
    );
    assert_eq!(
        headlines(&input),
        [
            "fleet.yaml:9:11: error: \"/etc/passwd\" is not under /dev/; a device is named by its node's path on the host, such as /dev/fuse",
            "fleet.yaml:10:37: error: access \"rwx\" is not some of r (read), w (write) and m (mknod), each once",
            "fleet.yaml:11:32: error: unknown field \"acess\" in security.devices",
            "fleet.yaml:13:18: error: device /dev/kvm is granted twice",
        ]
    );
    check(
        &spec(
            "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    security:\n      devices: [{path: /dev/fuse, access: rwq}]\n",
        ),
        r#"
fleet.yaml:8:43: error: access "rwq" is not some of r (read), w (write) and m (mknod), each once
  |
8 |       devices: [{path: /dev/fuse, access: rwq}]
  |                                           ^^^
  = hint: such as rw, or rwm (the default)
"#,
    );
}
