//! N VMs booted together, and fleet driven against them as an operator would: a spec whose
//! hosts are the VMs (SSH to 127.0.0.1 on each forwarded port, host keys from a known_hosts file
//! listing exactly the keys the harness made), `fleet bootstrap`, `fleet apply` and the other
//! verbs run as the real `fleet` binary.
//!
//! Boot is parallel within a cluster: every QEMU is started from the calling thread (their
//! parent-death signal is tied to it), then the harness waits for all sshds at once. Clusters of
//! tests running side by side boot one after the other.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::image::Image;
use crate::vm::{LinkEnd, Vm, VmOptions, client_key, free_udp_port};

/// The `fleet` verbs that open sessions to hosts (and so take `--connect-timeout`).
const CONNECTING: &[&str] = &[
    "plan",
    "apply",
    "get",
    "exec",
    "status",
    "bootstrap",
    "destroy",
];

/// Seconds fleet may take to open a session to a VM. fleet's default (10 s) bounds the TCP
/// connect, the handshake and the hello; a TCG guest that has just booted, starting its onboot
/// containers on one emulated vCPU while other builds load the machine, took longer than that
/// (seen at load 20). A TCG guest is a slow host, not a broken one.
pub const CONNECT_TIMEOUT: &str = "120";

/// Held while a cluster boots (see [`Cluster::boot_linked`]).
static BOOTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// VMs that share a test.
#[derive(Debug)]
pub struct Cluster {
    /// The VMs, `vm-0`, `vm-1`, ... (dropped first: QEMU is killed before the files go).
    pub vms: Vec<Vm>,
    /// Client private key root accepts on every VM.
    pub identity: PathBuf,
    /// known_hosts with every VM's `[127.0.0.1]:port` key, for fleet.
    pub known_hosts: PathBuf,
    dir: tempfile::TempDir,
}

/// The address of VM `side` (0: the first of the pair, 1: the second) on link number `link`.
pub fn link_address(link: usize, side: usize) -> String {
    format!("10.250.{}.{}/24", link % 256, side + 1)
}

impl Cluster {
    /// Boots `n` VMs of size `opts`, with no links between them.
    pub fn boot(n: usize, opts: VmOptions) -> Cluster {
        Cluster::boot_linked(&vec![opts; n], &[])
    }

    /// Boots one VM per entry of `sizes` (`vm-0` the first); each `(a, b)` in `links` is a
    /// point-to-point Ethernet link between VM `a` and VM `b` (a `-netdev socket` UDP pair on
    /// 127.0.0.1), link `k` with the subnet 10.250.k.0/24: `a` is .1 and `b` is .2
    /// ([`link_address`]). A VM's links are its eth1, eth2, ... in the order they are listed.
    pub fn boot_linked(sizes: &[VmOptions], links: &[(usize, usize)]) -> Cluster {
        let n = sizes.len();
        let image = Image::get();
        let dir = tempfile::Builder::new()
            .prefix("fleet-vms-")
            .tempdir()
            .expect("temp dir");
        let identity = dir.path().join("id_client");
        client_key(&identity);
        let mut ends: Vec<Vec<LinkEnd>> = vec![Vec::new(); n];
        for (k, &(a, b)) in links.iter().enumerate() {
            assert!(
                a < n && b < n && a != b,
                "link {k} ({a}, {b}) is not between two of {n} VMs"
            );
            let (pa, pb) = (free_udp_port(), free_udp_port());
            ends[a].push(LinkEnd {
                local_port: pa,
                peer_port: pb,
                address: link_address(k, 0),
            });
            ends[b].push(LinkEnd {
                local_port: pb,
                peer_port: pa,
                address: link_address(k, 1),
            });
        }
        // One cluster boots at a time: a boot is 30-60 s of guest CPU under TCG, and three VMs
        // booting at once on a loaded 2-core machine overran the boot timeout. The VMs of one
        // cluster still boot together; a cluster that is up runs its checks beside the next boot.
        let _booting = BOOTING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut vms: Vec<Vm> = ends
            .into_iter()
            .enumerate()
            .map(|(i, links)| Vm::spawn(image, i, sizes[i], &identity, links))
            .collect();
        std::thread::scope(|s| {
            for vm in vms.iter_mut() {
                s.spawn(move || vm.wait_ready());
            }
        });
        let known_hosts = dir.path().join("known_hosts");
        let lines: String = vms
            .iter()
            .map(|vm| format!("[127.0.0.1]:{} {}\n", vm.port, vm.host_key))
            .collect();
        std::fs::write(&known_hosts, lines).expect("write known_hosts");
        Cluster {
            vms,
            identity,
            known_hosts,
            dir,
        }
    }

    /// The cluster's scratch directory (specs, keys).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `hosts:` entries of a fleet spec for every VM (`vm-0`, ...), verified against
    /// [`Cluster::known_hosts`]; node settings are the defaults (`/usr/local/bin/fleet-node`,
    /// root `/var/lib/fleet-node`, cgroup parent `fleet`), as on a host an operator set up,
    /// except a VM's [`Vm::node_path`] when it differs (a host with the .deb).
    pub fn hosts_yaml(&self) -> String {
        self.hosts_yaml_of(&[])
    }

    /// [`Cluster::hosts_yaml`] for the VMs named in `only` (every VM when it is empty).
    pub fn hosts_yaml_of(&self, only: &[&str]) -> String {
        self.vms
            .iter()
            .filter(|vm| only.is_empty() || only.contains(&vm.name.as_str()))
            .map(|vm| {
                let node = if vm.node_path == crate::vm::DEFAULT_NODE_PATH {
                    String::new()
                } else {
                    format!("    node: {{path: {}}}\n", vm.node_path)
                };
                format!(
                    "  - name: {name}\n    transport: ssh\n    address: 127.0.0.1\n    \
                     port: {port}\n    user: root\n    identity_file: {id}\n    \
                     known_hosts: {kh}\n{node}",
                    name = vm.name,
                    port = vm.port,
                    id = self.identity.display(),
                    kh = self.known_hosts.display(),
                )
            })
            .collect()
    }

    /// Writes `<file>` in the scratch directory: a spec for fleet `fleet` over every VM with the
    /// given `containers:` entries (YAML, indented by two spaces). Returns its path.
    pub fn write_spec(&self, file: &str, fleet: &str, containers: &str) -> PathBuf {
        self.write_spec_on(file, fleet, &[], containers)
    }

    /// [`Cluster::write_spec`] over the VMs named in `hosts` only (every VM when it is empty):
    /// `fleet` then connects to no other VM.
    pub fn write_spec_on(
        &self,
        file: &str,
        fleet: &str,
        hosts: &[&str],
        containers: &str,
    ) -> PathBuf {
        let path = self.dir.path().join(file);
        let containers = if containers.is_empty() {
            " []\n".to_owned()
        } else {
            format!("\n{containers}")
        };
        let yaml = format!(
            "apiVersion: fleet/v1\nfleet: {fleet}\nhosts:\n{}containers:{containers}",
            self.hosts_yaml_of(hosts)
        );
        std::fs::write(&path, yaml).expect("write spec");
        path
    }

    /// Runs the `fleet` binary with `args`. Commands that connect to hosts get
    /// `--connect-timeout` [`CONNECT_TIMEOUT`] (before a `--`, if any).
    pub fn fleet(&self, args: &[&str]) -> Output {
        self.fleet_with_env(args, &[])
    }

    /// [`Cluster::fleet`] with `env` added to fleet's environment (`FLEET_PRE_DUMPS=0`).
    pub fn fleet_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let started = Instant::now();
        let mut argv: Vec<&str> = args.to_vec();
        if args.first().is_some_and(|verb| CONNECTING.contains(verb)) {
            let at = argv.iter().position(|a| *a == "--").unwrap_or(argv.len());
            argv.splice(at..at, ["--connect-timeout", CONNECT_TIMEOUT]);
        }
        let out = Command::new(crate::bins::fleet())
            .args(&argv)
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .output()
            .expect("run fleet");
        eprintln!(
            "fleet-vm: fleet {} took {:.1} s",
            args.first().unwrap_or(&""),
            started.elapsed().as_secs_f64()
        );
        out
    }

    /// Runs `fleet <args>`; panics with both streams unless it exits `want`. Returns stdout.
    #[track_caller]
    pub fn fleet_expect(&self, args: &[&str], want: i32) -> String {
        let out = self.fleet(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(want),
            "fleet {args:?} exited {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs `fleet <args>`; panics unless it succeeds. Returns stdout.
    #[track_caller]
    pub fn fleet_ok(&self, args: &[&str]) -> String {
        self.fleet_expect(args, 0)
    }

    /// Asserts that `fleet plan -f spec` has nothing left to do: the last apply converged.
    #[track_caller]
    pub fn assert_converged(&self, spec: &str) {
        let plan = self.fleet_ok(&["plan", "-f", spec]);
        assert!(plan.contains("No changes."), "apply converged: {plan}");
    }

    /// `fleet bootstrap -f spec` with the workspace's fleet-node: every VM gets the binary. It
    /// goes without its debug sections (`objcopy --strip-debug`: a third of the bytes to push
    /// through an emulated sshd; symbols stay for backtraces).
    #[track_caller]
    pub fn bootstrap(&self, spec: &Path) -> String {
        let node = self.dir.path().join("fleet-node");
        crate::command::stdout_of(
            "objcopy --strip-debug (binutils)",
            Command::new("objcopy")
                .arg("--strip-debug")
                .arg(crate::bins::fleet_node())
                .arg(&node),
        );
        self.fleet_ok(&[
            "bootstrap",
            "-f",
            &spec.display().to_string(),
            "--node-binary",
            &node.display().to_string(),
        ])
    }

    /// The VM named `name`.
    pub fn vm(&self, name: &str) -> &Vm {
        self.vms
            .iter()
            .find(|vm| vm.name == name)
            .unwrap_or_else(|| panic!("no VM {name}"))
    }
}
