//! What a start does for a container's ids: the writable layer on the side the spec wants
//! (its range, or host ids when privileged), the user namespace with the range's id map, and a
//! template lower layer that the mapped ids can use: an idmapped mount of the shared template
//! where the kernel allows one under overlayfs (5.19+), else a copy of the template with every
//! owner shifted (one per range, `template::prepare_shifted`). See docs/decisions.md. The rules
//! (pool, record, shift) are `crate::userns`'s; this is where the runtime uses them.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::OnceLock;

use fleet_protocol::ContainerSpec;

use super::Runtime;
use crate::error::{Result, io_err};
use crate::store::State;
use crate::sys;
use crate::template::{self, Prepared};
use crate::userns::RANGE_SIZE;
use crate::userns::ids::IdShift;
use crate::userns::shift::shift_tree;

/// A container's ids at start: what init's intermediate joins and what its overlay uses.
pub(crate) struct Ids {
    /// First host id of the range; `None` for a privileged container.
    pub base: Option<u32>,
    /// The user namespace (`0 <base> 65536`) the intermediate joins.
    pub userns: Option<File>,
    /// A detached idmapped mount of the template, attached over the lower layer inside.
    pub lower_mount: Option<OwnedFd>,
    /// The template to mount.
    pub template: Prepared,
}

/// How the template is made usable by a container's range on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowerLayers {
    /// One shared template, seen through an idmapped mount per container.
    Idmapped,
    /// A copy of the template per range with every owner shifted.
    ShiftedCopies,
}

/// Idmapped lower layers need overlayfs support for idmapped layers, in Linux 5.19 and later.
pub fn lower_layers() -> LowerLayers {
    static CHOICE: OnceLock<LowerLayers> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parts = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if std::env::var_os(SHIFTED_ENV).is_some() || version < (5, 19) {
            LowerLayers::ShiftedCopies
        } else {
            LowerLayers::Idmapped
        }
    })
}

/// Environment variable that makes the node use shifted copies even where idmapped mounts
/// work (for the benchmark's comparison and the tests of the fallback).
pub const SHIFTED_ENV: &str = "FLEET_NODE_SHIFTED_TEMPLATES";

impl Runtime {
    /// Puts the container's writable layer on the side its spec wants and prepares its user
    /// namespace and template. The caller holds the container's lock; init is not running.
    pub(crate) fn prepare_ids(
        &self,
        name: &str,
        spec: &ContainerSpec,
        state: &mut State,
        upper: &Path,
        work: &Path,
    ) -> Result<Ids> {
        let templates = self.store.templates_dir();
        if spec.privileged {
            self.own_layer(name, state, &[upper, work], 0)?;
            return Ok(Ids {
                base: None,
                userns: None,
                lower_mount: None,
                template: template::prepare(&templates, &spec.template, &self.sources)?,
            });
        }
        // Held since create (read without the node lock: the record is replaced atomically);
        // a container switched from privileged takes its range now.
        let base = match self.uid_range(name)? {
            Some(base) => base,
            None => self.allocate_uid_range(name)?,
        };
        state.userns_base = Some(base);
        self.own_layer(name, state, &[upper, work], base)?;
        let userns = sys::userns::create(base, RANGE_SIZE)
            .map_err(io_err("make the user namespace of", name))?;
        let plain = template::prepare(&templates, &spec.template, &self.sources)?;
        if lower_layers() == LowerLayers::Idmapped {
            match sys::idmap::idmapped_clone(&plain.lower, userns.as_fd()) {
                Ok(mount) => {
                    return Ok(Ids {
                        base: Some(base),
                        userns: Some(File::from(userns)),
                        lower_mount: Some(mount),
                        template: plain,
                    });
                }
                // The template's filesystem cannot be idmapped (tmpfs before 6.3, say): the
                // copy works everywhere.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::ENOSYS | libc::EPERM | libc::EOPNOTSUPP)
                    ) => {}
                Err(e) => return Err(io_err("make an idmapped mount of", &plain.lower)(e)),
            }
        }
        Ok(Ids {
            base: Some(base),
            userns: Some(File::from(userns)),
            lower_mount: None,
            template: template::prepare_shifted(&templates, &spec.template, &self.sources, base)?,
        })
    }

    /// Makes the owners of the writable layer `dirs` those of side `want` (`0` host ids, else
    /// a range base). A container that switched sides since its last start has its files moved
    /// (recorded in state.json first, so a cut-off move is finished by the next start); else
    /// only the top directories are set, which a new disk's layer needs.
    fn own_layer(&self, name: &str, state: &mut State, dirs: &[&Path], want: u32) -> Result<()> {
        let have = state.layer_side();
        if have != want || state.shifting_to.is_some() {
            // The sides never overlap, so one move to `want` from the other side also finishes
            // a move that was cut off in either direction.
            let from = if have != want {
                have
            } else {
                state.shifting_to.unwrap_or(have)
            };
            state.shifting_to = Some(want);
            state.layer_ids = Some(have);
            self.store.write_state(name, state)?;
            let shift = IdShift { from, to: want };
            for dir in dirs {
                if dir.exists() {
                    shift_tree(dir, shift)?;
                }
            }
            state.shifting_to = None;
        } else {
            for dir in dirs {
                std::os::unix::fs::lchown(dir, Some(want), Some(want))
                    .map_err(io_err("chown", *dir))?;
            }
        }
        state.layer_ids = Some(want);
        Ok(())
    }
}
