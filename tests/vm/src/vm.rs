//! One QEMU virtual machine: a real Debian 12 host with systemd on the unified cgroup v2
//! hierarchy, booted from a copy-on-write overlay of the cached [`Image`].
//!
//! Networking: QEMU's user network with `restrict=on` (the guest reaches nothing outside this
//! machine; it has no route beyond 10.0.2.0/24) and one `hostfwd` from a free port on 127.0.0.1 to
//! the guest's sshd. Links between VMs are point-to-point `-netdev socket` UDP pairs on 127.0.0.1
//! ([`crate::cluster`] wires them). Identity: a fresh ed25519 host key per VM, made here and
//! handed to the guest through fw_cfg, so the harness knows the key before boot and pins it.
//!
//! QEMU is started through `setpriv --pdeathsig KILL` (so it dies with the test's thread even
//! if the test process is killed), and is killed by its PID on drop; the overlay and every other
//! file of the VM live in its temporary directory, removed on drop.

use std::ffi::OsString;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::command::stdout_of;
use crate::image::Image;
use crate::recipe;
use crate::ssh::Ssh;

/// Size of one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmOptions {
    /// Virtual CPUs (TCG runs one host thread per vCPU).
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            cpus: 1,
            memory_mib: 2048,
        }
    }
}

/// One end of a link between two VMs, as this VM sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEnd {
    /// UDP port this VM's QEMU receives on (127.0.0.1).
    pub local_port: u16,
    /// UDP port of the peer's QEMU.
    pub peer_port: u16,
    /// This VM's address on the link, CIDR (`10.250.0.1/24`).
    pub address: String,
}

/// How long a boot may take before the test fails: `FLEET_VM_BOOT_TIMEOUT` seconds, default 600
/// (16 s on an idle machine; 2 to 5 minutes were seen while other builds loaded both cores).
pub fn boot_timeout() -> Duration {
    let secs = std::env::var("FLEET_VM_BOOT_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

/// A free TCP port on 127.0.0.1 (QEMU binds it a moment later).
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// A free UDP port on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind a free port");
    s.local_addr().expect("local address").port()
}

/// fleet-node's path on a host when the spec says nothing (`fleet bootstrap` puts it there).
pub const DEFAULT_NODE_PATH: &str = "/usr/local/bin/fleet-node";

/// What the kernel prints on the console as a shutdown for a reboot ends.
const RESTARTING: &str = "reboot: Restarting system";

/// How long a [`Vm::reboot`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reboot {
    /// From `systemctl reboot` until the kernel restarts: the shutdown (stopping every unit and
    /// what is left; an init that ignores SIGTERM would hold it for systemd's 90 s).
    pub shutdown: Duration,
    /// From `systemctl reboot` until sshd answers again in the new boot.
    pub total: Duration,
}

/// A running (or powered-off) VM.
#[derive(Debug)]
pub struct Vm {
    /// Host name inside (`vm-0`), also its host name in the fleet specs the harness writes.
    pub name: String,
    /// The port on 127.0.0.1 forwarded to its sshd.
    pub port: u16,
    /// Its SSH host public key (`ssh-ed25519 AAAA... vm-0`).
    pub host_key: String,
    /// The harness's SSH client to it.
    pub ssh: Ssh,
    /// Addresses of its links, in NIC order (eth1, eth2, ...).
    pub links: Vec<LinkEnd>,
    /// Where fleet-node is on this VM: [`DEFAULT_NODE_PATH`] (where `fleet bootstrap` puts it)
    /// unless a test installed it otherwise (the .deb's `/usr/bin/fleet-node`).
    pub node_path: String,
    /// How long the last [`Vm::wait_ready`] waited for sshd (the first one: the boot).
    pub ready_after: Option<Duration>,
    qemu: Vec<OsString>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

fn keygen(path: &Path, comment: &str) {
    stdout_of(
        "ssh-keygen",
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
    );
}

/// Makes a client key pair at `path` (and `path.pub`).
pub fn client_key(path: &Path) {
    keygen(path, "fleet-vm-client");
}

impl Vm {
    /// Starts VM number `index` (QEMU runs; the guest is still booting). `identity` is the
    /// client key whose public half root accepts.
    pub fn spawn(
        image: &Image,
        index: usize,
        opts: VmOptions,
        identity: &Path,
        links: Vec<LinkEnd>,
    ) -> Vm {
        let name = format!("vm-{index}");
        let dir = tempfile::Builder::new()
            .prefix(&format!("fleet-{name}-"))
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let overlay = d.join("disk.qcow2");
        stdout_of(
            "qemu-img create",
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
                .arg(&image.base)
                .arg(&overlay),
        );
        keygen(&d.join("host_key"), &name);
        let host_key = std::fs::read_to_string(d.join("host_key.pub"))
            .expect("host public key")
            .trim()
            .to_owned();
        std::fs::write(d.join("hostname"), format!("{name}\n")).expect("hostname file");
        let port = free_tcp_port();
        let known_hosts = d.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}\n"))
            .expect("known_hosts");
        let mut fw_cfg = vec![
            ("host_key", d.join("host_key")),
            ("host_key.pub", d.join("host_key.pub")),
            ("authorized_keys", identity.with_extension("pub")),
            ("hostname", d.join("hostname")),
        ];
        let mut addr_names = Vec::new();
        for (i, link) in links.iter().enumerate() {
            let file = d.join(format!("addr-eth{}", i + 1));
            std::fs::write(&file, &link.address).expect("link address file");
            addr_names.push((format!("addr-eth{}", i + 1), file));
        }
        let mut qemu: Vec<OsString> = Vec::new();
        let mut arg = |a: &str| qemu.push(a.into());
        for a in [
            "--pdeathsig",
            "KILL",
            "--",
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-monitor",
            "none",
        ] {
            arg(a);
        }
        let path = |p: &Path| {
            let s = p.display().to_string();
            assert!(
                !s.contains(','),
                "QEMU option paths cannot hold a comma: {s}"
            );
            s
        };
        arg("-name");
        arg(&name);
        arg("-m");
        arg(&opts.memory_mib.to_string());
        arg("-smp");
        arg(&opts.cpus.to_string());
        arg("-serial");
        arg(&format!("file:{}", path(&d.join("console.log"))));
        arg("-kernel");
        arg(&path(&image.vmlinuz));
        arg("-initrd");
        arg(&path(&image.initrd));
        arg("-append");
        arg(recipe::KERNEL_ARGS);
        arg("-drive");
        arg(&format!(
            "file={},format=qcow2,if=virtio,cache=unsafe",
            path(&overlay)
        ));
        arg("-netdev");
        arg(&format!(
            "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-10.0.2.15:22"
        ));
        arg("-device");
        arg(&format!(
            "virtio-net-pci,netdev=net0,mac={}",
            recipe::mac(index, 0)
        ));
        for (i, link) in links.iter().enumerate() {
            arg("-netdev");
            arg(&format!(
                "socket,id=link{i},udp=127.0.0.1:{},localaddr=127.0.0.1:{}",
                link.peer_port, link.local_port
            ));
            arg("-device");
            arg(&format!(
                "virtio-net-pci,netdev=link{i},mac={}",
                recipe::mac(index, i + 1)
            ));
        }
        fw_cfg.extend(addr_names.iter().map(|(n, p)| (n.as_str(), p.clone())));
        for (entry, file) in &fw_cfg {
            arg("-fw_cfg");
            arg(&format!("name=opt/fleet/{entry},file={}", path(file)));
        }
        let ssh = Ssh::new(port, identity.to_path_buf(), known_hosts, d.join("ssh.ctl"));
        let mut vm = Vm {
            name,
            port,
            host_key,
            ssh,
            links,
            node_path: DEFAULT_NODE_PATH.to_owned(),
            ready_after: None,
            qemu,
            child: None,
            dir,
        };
        vm.start();
        vm
    }

    /// Starts QEMU again with the same disk, port and identity (after [`Vm::poweroff`]).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::File::create(self.dir.path().join("qemu.log")).expect("qemu.log");
        let child = Command::new("setpriv")
            .args(&self.qemu)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start qemu-system-x86_64 (through setpriv)");
        self.child = Some(child);
    }

    /// QEMU's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The VM's files (overlay, console log, keys).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the serial console and of QEMU's own log, for failure messages.
    pub fn console_tail(&self) -> String {
        let tail = |file: &str, n: usize| {
            let text = std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "--- {} console (last lines) ---\n{}\n--- qemu.log ---\n{}",
            self.name,
            tail("console.log", 40),
            tail("qemu.log", 20)
        )
    }

    /// Sleeps `pause` before the caller looks again; once `deadline` has passed, panics instead
    /// with the console's tail: the guest did not `what` in time.
    #[track_caller]
    fn wait_before(&self, deadline: Instant, what: &str, pause: Duration) {
        assert!(
            Instant::now() < deadline,
            "{} did not {what}\n{}",
            self.name,
            self.console_tail()
        );
        std::thread::sleep(pause);
    }

    /// Whether the serial console has printed `text` (read from the start: a few KiB).
    fn console_has(&self, text: &str) -> bool {
        std::fs::read(self.dir.path().join("console.log"))
            .is_ok_and(|log| log.windows(text.len()).any(|w| w == text.as_bytes()))
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Whether sshd answers with its banner on the forwarded port.
    fn sshd_answers(&self) -> bool {
        let Ok(mut s) =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(2))
        else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 8];
        matches!(s.read(&mut buf), Ok(n) if n >= 4 && &buf[..4] == b"SSH-")
    }

    /// Waits until the guest's sshd answers and the harness's master connection is up; panics
    /// with the console's tail after [`boot_timeout`] or if QEMU exits.
    pub fn wait_ready(&mut self) {
        let timeout = boot_timeout();
        let started = Instant::now();
        let deadline = started + timeout;
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "QEMU of {} exited ({status})\n{}",
                    self.name,
                    self.console_tail()
                );
            }
            if self.console_has("Kernel panic") {
                panic!(
                    "{}: the guest kernel panicked\n{}",
                    self.name,
                    self.console_tail()
                );
            }
            if self.sshd_answers() {
                match self.ssh.start_master(Duration::from_secs(60)) {
                    Ok(()) => {
                        let took = started.elapsed();
                        eprintln!(
                            "fleet-vm: {} answers over SSH after {:.1} s",
                            self.name,
                            took.as_secs_f64()
                        );
                        self.ready_after = Some(took);
                        return;
                    }
                    Err(e) if Instant::now() > deadline => {
                        panic!("{}: {e}\n{}", self.name, self.console_tail())
                    }
                    Err(_) => {}
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: sshd did not answer within {timeout:?} (FLEET_VM_BOOT_TIMEOUT)\n{}",
                    self.name,
                    self.console_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The kernel's boot id: changes on every boot.
    pub fn boot_id(&self) -> String {
        self.ssh
            .ok(&["cat", "/proc/sys/kernel/random/boot_id"])
            .trim()
            .to_owned()
    }

    /// Reboots the guest (`systemctl reboot`; QEMU stays, so do port and PID) and waits until it
    /// is back with a new boot id.
    pub fn reboot(&mut self) -> Reboot {
        let before = self.boot_id();
        let restarts = self.console_count(RESTARTING);
        let started = Instant::now();
        // The session dies with the guest's sshd: its exit status means nothing.
        let _ = self.ssh.run(&["systemctl", "reboot"]);
        self.ssh.stop_master();
        let deadline = started + boot_timeout();
        // The shutdown ends where the kernel says it restarts (printed even with `quiet`).
        while self.console_count(RESTARTING) == restarts {
            self.wait_before(
                deadline,
                "shut down for its reboot",
                Duration::from_millis(200),
            );
        }
        let shutdown = started.elapsed();
        loop {
            self.wait_ready();
            let out = self.ssh.run(&["cat", "/proc/sys/kernel/random/boot_id"]);
            let now = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if out.status.success() && !now.is_empty() && now != before {
                return Reboot {
                    shutdown,
                    total: started.elapsed(),
                };
            }
            self.ssh.stop_master();
            self.wait_before(
                deadline,
                "come back from reboot",
                Duration::from_millis(500),
            );
        }
    }

    /// How many times the serial console has printed `text`.
    fn console_count(&self, text: &str) -> usize {
        std::fs::read(self.dir.path().join("console.log")).map_or(0, |log| {
            log.windows(text.len())
                .filter(|w| *w == text.as_bytes())
                .count()
        })
    }

    /// Powers the guest off (`systemctl poweroff`) and waits for QEMU to exit; returns its exit
    /// status. [`Vm::start`] boots it again from the same disk.
    pub fn poweroff(&mut self) -> ExitStatus {
        let _ = self.ssh.run(&["systemctl", "poweroff"]);
        self.ssh.stop_master();
        let deadline = Instant::now() + boot_timeout();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            self.wait_before(deadline, "power off", Duration::from_millis(200));
        }
    }

    /// Kills QEMU by its PID (the guest gets no shutdown) and reaps it.
    pub fn kill(&mut self) {
        self.ssh.stop_master();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}
