//! Valid specs in, resolved fleets out: sets, profiles, substitutions, defaults, several files.

use fleet::model::{HostKeyPolicy, Transport};
use fleet::resolve;
use fleet_protocol::{NetworkMode, TemplateRef};

#[test]
fn sets_profiles_and_substitutions() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        r#"
apiVersion: fleet/v1
fleet: shop
profiles:
  - name: web
    extends: small
    memory: 1Gi
containers:
  - name: web-{08..10}
    template: busybox
    profile: web
    command: ["/bin/sleep", "1000"]
    hostname: "{name}.shop"
    env: {SLOT: "{index}"}
    resources: {pids: 100}
    network: {bridge: fleet0, addresses: ["10.0.0.{index}/24"], gateway: 10.0.0.1}
  - name: worker-{index}
    count: 2
    template: host
    command: ["/bin/true"]
    depends_on: ["web-{08..10}"]
"#,
    )
    .unwrap();
    let names: Vec<&str> = fleet
        .containers
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["web-08", "web-09", "web-10", "worker-1", "worker-2"]
    );
    let web = &fleet.container("web-09").unwrap().spec;
    assert_eq!(web.fleet, "shop");
    assert_eq!(web.hostname, "web-09.shop");
    assert_eq!(web.env["SLOT"], "9");
    assert_eq!(web.template, TemplateRef::Busybox);
    // small sets units 1000 and limit 50%, web overrides memory, the container pids.
    assert_eq!(web.resources.cpu_units, Some(1000));
    assert_eq!(web.resources.cpu_limit, Some(50));
    assert_eq!(web.resources.memory, Some(1 << 30));
    assert_eq!(web.resources.pids, Some(100));
    assert_eq!(web.resources.disk_space, Some(2 << 30));
    assert_eq!(web.network.mode, NetworkMode::Bridged);
    assert_eq!(web.network.addresses, ["10.0.0.9/24"]);
    let worker = fleet.container("worker-2").unwrap();
    assert_eq!(worker.depends_on, ["web-08", "web-09", "web-10"]);
    assert_eq!(worker.placement.group.as_deref(), Some("worker-{index}"));
}

#[test]
fn host_defaults() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        "apiVersion: fleet/v1\nfleet: f\nhosts:\n  - name: a\n    address: 127.0.0.2\n  - name: b\n    address: 127.0.0.3\n    port: 2222\n    user: ops\n    host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n    node: {root: /srv/fleet, cgroup_parent: f2}\n",
    )
    .unwrap();
    let Transport::Ssh(a) = &fleet.host("a").unwrap().transport else {
        panic!("ssh expected")
    };
    assert_eq!((a.port, a.user.as_str()), (22, "root"));
    assert_eq!(a.host_key, HostKeyPolicy::KnownHosts { path: None });
    let b = fleet.host("b").unwrap();
    let Transport::Ssh(bt) = &b.transport else {
        panic!()
    };
    assert_eq!((bt.port, bt.user.as_str()), (2222, "ops"));
    assert!(matches!(bt.host_key, HostKeyPolicy::Pinned { .. }));
    assert_eq!(b.node.root, "/srv/fleet");
    assert_eq!(b.node.cgroup_parent, "f2");
    assert_eq!(b.node.path, "/usr/local/bin/fleet-node");
}

#[test]
fn many_files_and_documents_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("10-hosts.yaml"),
        "apiVersion: fleet/v1\nfleet: f\nhosts:\n  - {name: h, transport: local}\n---\napiVersion: fleet/v1\nprofiles:\n  - {name: p, memory: 64Mi}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20-containers.yml"),
        "apiVersion: fleet/v1\ncontainers:\n  - {name: c, template: busybox, profile: p, command: [x], host: h}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "not a spec").unwrap();
    let fleet = resolve::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(fleet.containers[0].spec.resources.memory, Some(64 << 20));

    // The same name in two files: both places are named.
    let extra = dir.path().join("extra.yaml");
    std::fs::write(
        &extra,
        "apiVersion: fleet/v1\nprofiles:\n  - {name: p, memory: 32Mi}\n",
    )
    .unwrap();
    let err = resolve::load(&[dir.path().to_path_buf(), extra.clone()]).unwrap_err();
    let text = err.render();
    assert!(
        text.contains("extra.yaml:3:12: error: profile \"p\" is defined twice"),
        "{text}"
    );
    assert!(text.contains("10-hosts.yaml:8:12"), "{text}");
}

#[test]
fn the_embedded_demo_and_shipped_specs_are_valid() {
    resolve::load_str("demo", fleet::commands::DEMO_SPEC).unwrap();
    let specs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    for entry in std::fs::read_dir(specs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml")
            && let Err(e) = resolve::load(std::slice::from_ref(&path))
        {
            panic!("{}:\n{}", path.display(), e.render());
        }
    }
}

#[test]
fn privileged_is_off_by_default_and_the_old_user_namespace_true_is_a_warning() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        "apiVersion: fleet/v1\nfleet: t\ncontainers:\n  - name: a\n    template: busybox\n    command: [x]\n    user_namespace: true\n  - name: b\n    template: busybox\n    command: [x]\n    privileged: true\n",
    )
    .unwrap();
    assert!(!fleet.container("a").unwrap().spec.privileged);
    assert!(fleet.container("b").unwrap().spec.privileged);
    assert_eq!(fleet.warnings.len(), 1, "{:?}", fleet.warnings);
    let w = &fleet.warnings[0];
    assert!(
        w.starts_with("fleet.yaml:7:21: warning: \"user_namespace: true\" is the default now"),
        "{w}"
    );
    assert!(w.contains("= hint: remove user_namespace"), "{w}");
}

#[test]
fn security_reaches_the_container_spec() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        r#"
apiVersion: fleet/v1
fleet: t
containers:
  - name: db
    template: host
    command: ["/bin/true"]
    security:
      nesting: true
      syscalls: {allow: [io_uring_setup, io_uring_enter], deny: [chroot]}
  - name: plain
    template: host
    command: ["/bin/true"]
"#,
    )
    .unwrap();
    let db = &fleet.containers[0].spec.security;
    assert!(db.nesting);
    assert_eq!(
        db.syscalls.allow.iter().collect::<Vec<_>>(),
        ["io_uring_enter", "io_uring_setup"]
    );
    assert_eq!(db.syscalls.deny.iter().collect::<Vec<_>>(), ["chroot"]);
    assert!(fleet.containers[1].spec.security.is_default());
    let json = serde_json::to_value(&fleet.containers[1].spec).unwrap();
    assert!(json.get("security").is_none(), "default left out: {json}");
}

#[test]
fn init_and_the_default_pids_ceiling_are_in_the_resolved_spec() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        "apiVersion: fleet/v1\nfleet: f\ncontainers:\n  - name: a\n    template: busybox\n    command: [sleep, '9']\n  - name: b\n    template: busybox\n    command: [/sbin/init]\n    init: builtin\n    resources: {pids: 100}\n",
    )
    .unwrap();
    let (a, b) = (&fleet.containers[0].spec, &fleet.containers[1].spec);
    assert_eq!(a.init, fleet_protocol::InitMode::Auto);
    assert_eq!(a.resources.pids, Some(fleet_protocol::DEFAULT_PIDS));
    assert_eq!(b.init, fleet_protocol::InitMode::Builtin);
    assert_eq!(b.resources.pids, Some(100));
}
