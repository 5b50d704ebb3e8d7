//! Running fleet-node inside another root directory, traced for the files it opens.
//!
//! A root with `proc/`, `sys/` and `dev/` directories (a whole system) gets the kernel's file
//! systems mounted there and becomes the command's `/` by pivot_root, inside a private mount
//! namespace made by `unshare` for that one command: the mounts exist only while the command
//! runs and vanish with the namespace, so nothing stays mounted on the host whatever the test
//! does (containers started meanwhile keep their own copy of the namespace until they are
//! destroyed). A root without them (the empty root) is entered with chroot.
//!
//! `strace` follows the command's own process (not its children: a container's init would keep
//! it waiting) and records every file-name syscall after the exec of fleet-node; [`forbidden`]
//! names the files a dynamically linked or NSS-using binary would reach for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::command::stdout_of;

/// The shell that enters the root: arguments only, nothing interpolated into the script.
const ENTER: &str = r#"set -eu
root=$1 trace=$2
shift 2
if [ -d "$root/proc" ]; then
    # A whole system gets its own / by pivot_root, as on a host: a chrooted process may not make
    # user namespaces. pivot_root needs / to be a mount point, so the root is bound onto itself.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    set -- sh -c 'cd "$1" && pivot_root . . && umount -l . && cd / && shift && exec "$@"' sh "$root" "$@"
else
    set -- chroot "$root" "$@"
fi
if [ "$trace" = - ]; then exec "$@"; fi
exec strace -o "$trace" -e trace=%file "$@"
"#;

/// A root directory to run commands in.
pub struct Root {
    /// The directory, as the host sees it.
    pub dir: PathBuf,
    /// Where the traces go (outside the root).
    traces: PathBuf,
    runs: std::cell::Cell<u32>,
}

/// One traced run.
pub struct Run {
    /// What the command printed and how it ended.
    pub output: Output,
    /// The files fleet-node itself touched (the paths of its file-name syscalls), in order.
    pub files: Vec<String>,
}

impl Root {
    /// A root at `dir`, tracing into `traces`.
    pub fn new(dir: PathBuf, traces: PathBuf) -> Root {
        std::fs::create_dir_all(&traces).unwrap();
        Root {
            dir,
            traces,
            runs: std::cell::Cell::new(0),
        }
    }

    /// `unshare` into a private mount namespace that enters the root (ENTER), writing the trace
    /// to `trace` (`-`: untraced); the caller adds the argv.
    fn enter(&self, trace: &std::ffi::OsStr) -> Command {
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                ENTER,
                "sh",
            ])
            .arg(&self.dir)
            .arg(trace);
        command
    }

    /// Runs `argv` (its first element is the program's path inside the root), traced.
    pub fn run(&self, argv: &[&str]) -> Run {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let trace = self.traces.join(format!("run-{n}.strace"));
        let output = self
            .enter(trace.as_os_str())
            .args(argv)
            .output()
            .expect("run unshare");
        let text = std::fs::read_to_string(&trace).unwrap_or_default();
        Run {
            output,
            files: files_after_exec(&text, argv[0]),
        }
    }

    /// Runs `argv` untraced (for the root's own programs: dpkg, bash) and asserts success;
    /// returns stdout.
    pub fn sh(&self, argv: &[&str]) -> String {
        stdout_of(
            &format!("{argv:?} in {}", self.dir.display()),
            self.enter("-".as_ref()).args(argv),
        )
    }

    /// Runs `argv` and asserts that it succeeded and touched no forbidden file; returns stdout.
    pub fn ok(&self, argv: &[&str]) -> String {
        let run = self.run(argv);
        assert!(
            run.output.status.success(),
            "{argv:?} in {} failed ({}): {}{}",
            self.dir.display(),
            run.output.status,
            String::from_utf8_lossy(&run.output.stdout),
            String::from_utf8_lossy(&run.output.stderr)
        );
        run.assert_clean(argv);
        String::from_utf8(run.output.stdout).unwrap()
    }
}

impl Run {
    /// Asserts that no forbidden file was touched.
    pub fn assert_clean(&self, argv: &[&str]) {
        let bad: Vec<&String> = self.files.iter().filter(|f| forbidden(f)).collect();
        assert!(
            bad.is_empty(),
            "{argv:?} reached for files of the C library's dynamic side: {bad:?}"
        );
    }
}

/// The paths named by file syscalls after `execve(program, ...)`, from an strace log.
fn files_after_exec(trace: &str, program: &str) -> Vec<String> {
    let exec = format!("execve(\"{program}\"");
    let mut lines = trace.lines().skip_while(|l| !l.starts_with(&exec));
    assert!(
        lines.next().is_some(),
        "the trace has no exec of {program}:\n{trace}"
    );
    lines
        .filter_map(|l| {
            let start = l.find('"')? + 1;
            let len = l[start..].find('"')?;
            Some(l[start..start + len].to_owned())
        })
        .collect()
}

/// Files that only the dynamic loader, NSS, iconv or locale support would open. NSS reads
/// `/etc/nsswitch.conf` before any database; `/etc/passwd` and `/etc/group` are not on the list,
/// since fleet-node reads them itself, as text, to keep container uid ranges clear of host
/// accounts (userns/pool.rs).
pub fn forbidden(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "/etc/nsswitch.conf",
        "/etc/hosts",
        "/etc/host.conf",
        "/etc/resolv.conf",
        "/etc/services",
        "/etc/localtime",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    EXACT.contains(&path)
        || path.starts_with("/etc/ld.so")
        || name.ends_with(".so")
        || name.contains(".so.")
        || path.contains("/locale")
        || path.contains("gconv")
}

/// A directory holding only `binary`, as `/fleet-node`.
pub fn empty_root(dir: &Path, binary: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(binary, dir.join("fleet-node")).unwrap();
}

#[test]
fn the_trace_reader_sees_only_what_follows_the_exec_and_flags_the_dynamic_side() {
    let trace = "execve(\"/usr/sbin/chroot\", [\"chroot\"], 0x0) = 0\n\
                 openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3\n\
                 chroot(\"/tmp/r\") = 0\n\
                 execve(\"/fleet-node\", [\"/fleet-node\", \"--version\"], 0x0) = 0\n\
                 openat(AT_FDCWD, \"/proc/self/maps\", O_RDONLY) = 3\n\
                 openat(AT_FDCWD, \"/usr/lib/locale/locale-archive\", O_RDONLY) = -1 ENOENT\n";
    let files = files_after_exec(trace, "/fleet-node");
    assert_eq!(files, ["/proc/self/maps", "/usr/lib/locale/locale-archive"]);
    assert_eq!(
        files.iter().filter(|f| forbidden(f)).count(),
        1,
        "only the locale archive"
    );
    assert!(forbidden("/lib/x86_64-linux-gnu/libnss_files.so.2"));
    assert!(forbidden("/etc/nsswitch.conf"));
    assert!(
        !forbidden("/etc/passwd"),
        "read as text by the uid pool, not through NSS"
    );
    assert!(!forbidden("/sys/fs/cgroup/memory/fleet/web"));
    assert!(!forbidden(
        "/var/lib/fleet-node/containers/web/rootfs/etc/passwd"
    ));
}
