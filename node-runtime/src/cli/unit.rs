//! `fleet-node install-unit`: writes fleet-node.service for this node (this binary, its --root,
//! --cgroup-parent, --uid-pool and --console-log-max), enables and (re)starts it; `--print` only
//! prints it.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::container::Runtime;
use crate::error::Result;
use crate::supervise::unit::{self, Settings};

/// Flags of `fleet-node install-unit`.
#[derive(Debug, Clone, Args)]
pub struct InstallUnitArgs {
    /// Where the unit goes.
    #[arg(long, default_value = "/etc/systemd/system", value_name = "DIR")]
    pub unit_dir: PathBuf,
    /// Print the unit and change nothing.
    #[arg(long)]
    pub print: bool,
}

/// Runs `install-unit`; exit code 0 also on a host without systemd (which it says), where there
/// is nothing to install into.
pub fn run(
    runtime: &Runtime,
    uid_pool: Option<String>,
    args: &InstallUnitArgs,
    out: &mut impl Write,
) -> Result<i32> {
    let settings = Settings {
        program: std::env::current_exe().map_err(crate::error::io_err("find", "/proc/self/exe"))?,
        root: runtime.store.root().to_owned(),
        cgroup_parent: runtime.cgroup_parent.clone(),
        uid_pool,
        console_log_max: (runtime.console_log_max != crate::container::console::DEFAULT_MAX)
            .then_some(runtime.console_log_max),
    };
    if args.print {
        let _ = write!(out, "{}", unit::render(&settings)?);
        return Ok(0);
    }
    if !unit::systemd_runs() {
        let _ = writeln!(
            out,
            "no systemd on this host (no /run/systemd/system): {} not installed; run \
             `{} --root {} supervise --boot` from the host's boot instead",
            unit::NAME,
            settings.program.display(),
            settings.root.display()
        );
        return Ok(0);
    }
    crate::supervise::boot::mark_this_boot(runtime)?;
    let path = unit::install(&settings, &args.unit_dir)?;
    let _ = writeln!(out, "{}: enabled and started", path.display());
    Ok(0)
}
