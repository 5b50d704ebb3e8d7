//! destroy: stop, then remove the cgroup, every mount under the container's directory, the
//! directory itself, and last its uid range. Marked `destroying` first so an interrupted destroy
//! is finished by the next command.

use std::fs;
use std::path::Path;

use fleet_protocol::ContainerSpec;

use super::{DESTROY_STOP_TIMEOUT, Runtime, crash_point};
use crate::error::{Result, io_err};
use crate::store::{ContainerLock, Phase, validate_name};
use crate::sys::mount;

impl Runtime {
    /// Destroys the container; `false` when there was nothing to destroy.
    pub fn destroy(&self, name: &str) -> Result<bool> {
        validate_name(name)?;
        let lock = self.store.lock(name)?;
        let Some(found) = self.repair(name, &lock)? else {
            lock.remove_file();
            return Ok(false);
        };
        let mut state = found.state.clone();
        state.phase = Phase::Destroying;
        self.store.write_state(name, &state)?;
        crash_point("destroying");
        if let Some(init) = found.init {
            self.kill_container(name, init, DESTROY_STOP_TIMEOUT)?;
        }
        self.remove_everything(name, Some(&found.spec), &lock)?;
        Ok(true)
    }

    /// Removes processes, cgroup, mounts and files of a container; idempotent.
    pub(crate) fn remove_everything(
        &self,
        name: &str,
        spec: Option<&ContainerSpec>,
        lock: &ContainerLock,
    ) -> Result<()> {
        let cgroup = self.cgroup(name);
        cgroup.kill_all(std::time::Duration::from_secs(5))?;
        self.release_resources(spec)?;
        cgroup.remove()?;
        // The last container gone, nothing of the node is left under /sys/fs/cgroup.
        self.cgroups.remove_parent(&self.cgroup_parent);
        let layout = self.store.layout(name);
        unmount_below(&layout.dir)?;
        match fs::remove_dir_all(&layout.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &layout.dir)(e)),
        }
        // Only now that no file of it is left can its uid range go to another container.
        self.free_uid_range(name)?;
        lock.remove_file();
        Ok(())
    }
}

/// Unmounts, deepest first, every mount of this namespace at or below `dir`.
pub(crate) fn unmount_below(dir: &Path) -> Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(io_err("read", "/proc/self/mountinfo"))?;
    let mut targets: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|t| Path::new(t).starts_with(dir))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        mount::unmount(Path::new(&t)).map_err(io_err("unmount", &t))?;
    }
    Ok(())
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}
