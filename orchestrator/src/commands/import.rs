//! `fleet import openvz CONF...`: a spec from legacy OpenVZ configs, on stdout, with what was
//! not imported summarized on stderr. Thin: reading, mapping and writing are `crate::import`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::import::openvz::{self, emit::HostEntry, map::Options};

/// Arguments of `fleet import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the configs come from.
    #[command(subcommand)]
    pub from: From,
}

/// The systems `fleet import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum From {
    /// OpenVZ (vzctl) container configs: /etc/vz/conf/CTID.conf.
    Openvz(OpenvzArgs),
}

/// Arguments of `fleet import openvz`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Reads legacy OpenVZ container configs (/etc/vz/conf/CTID.conf, shell-variable \
                  syntax) with the global vz.conf for defaults, and prints a spec that `fleet \
                  validate` accepts: one host entry and one container per config. Limits are \
                  converted exactly (4 KiB pages, 1 KiB blocks, K/M/G/T suffixes; the hard \
                  limit of barrier:limit is the limit). Each field's comment names the setting \
                  it came from; every setting without an equivalent is listed in the spec and \
                  summarized on stderr.\n\n\
                  OpenVZ's template cache does not exist here: without --private or \
                  --template-cache the containers get the host template and a comment saying \
                  what to put there.",
    after_help = "Examples:\n  fleet import openvz /etc/vz/conf/101.conf > fleet.yaml\n  \
                  fleet import openvz /etc/vz/conf/*.conf --host ovz1 --address 192.0.2.10 > fleet.yaml\n  \
                  fleet import openvz conf/*.conf --private /srv/vz-private --host ovz1 --address 192.0.2.10\n  \
                  fleet import openvz conf/*.conf --template-cache /vz/template/cache\n\n\
                  --private DIR: DIR/CTID is each container's simfs private area (rsync'd from \
                  /vz/private on the old host), copied into its new disk before the first start; \
                  owners are shifted into the container's uid range. A ploop image (root.hdd) \
                  must be mounted or converted first (the error says how).\n\n\
                  Exit status: 0 when everything was read (warnings are printed), 1 when a file \
                  or line could not be (the rest is still imported and printed)."
)]
pub struct OpenvzArgs {
    /// Container configs (CTID.conf); the CTID is the file name.
    #[arg(required = true, value_name = "CONF")]
    pub configs: Vec<PathBuf>,
    /// The host entry's name; every container is pinned to it.
    #[arg(long, default_value = "openvz", value_name = "NAME")]
    pub host: String,
    /// The host's SSH address; without it the host is this machine (transport: local).
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// The fleet's name.
    #[arg(long, default_value = "openvz", value_name = "NAME")]
    pub fleet: String,
    /// Directory of the containers' private areas (DIR/CTID), brought in as their disks.
    #[arg(long, value_name = "DIR")]
    pub private: Option<PathBuf>,
    /// Directory of OpenVZ's OS template tarballs (OSTEMPLATE.tar.gz), made tarball templates.
    #[arg(long, value_name = "DIR")]
    pub template_cache: Option<PathBuf>,
    /// vz.conf, for defaults [default: /etc/vz/vz.conf when it exists].
    #[arg(long, value_name = "FILE", conflicts_with = "no_global")]
    pub global: Option<PathBuf>,
    /// Read no vz.conf.
    #[arg(long)]
    pub no_global: bool,
}

/// Runs `fleet import`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let From::Openvz(args) = args.from;
    for (what, name) in [("--host", &args.host), ("--fleet", &args.fleet)] {
        if !crate::resolve::valid_name(name) {
            eprintln!(
                "error: {what} {name:?} is not a valid name: 1 to 64 letters, digits, '.', '_' or '-', \
                 starting with a letter or digit"
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let global = match (args.no_global, args.global) {
        (true, _) => None,
        (false, Some(g)) => Some(g),
        (false, None) => {
            let g = PathBuf::from(openvz::DEFAULT_GLOBAL);
            g.exists().then_some(g)
        }
    };
    let host = HostEntry {
        name: args.host,
        address: args.address,
    };
    let request = openvz::Request {
        configs: args.configs,
        global,
        fleet: args.fleet,
        options: Options {
            private: args.private,
            template_cache: args.template_cache,
            host: host.name.clone(),
        },
        host,
    };
    let imported = openvz::import(&request);
    for warning in imported.diagnostics.warnings() {
        eprint!("{}", warning.render_warning(&imported.sources));
    }
    let errors = imported.diagnostics.len();
    for error in imported.diagnostics.clone().sorted() {
        eprint!("{}", error.render(&imported.sources));
    }
    if imported.containers.is_empty() {
        eprintln!("error: no container could be imported; nothing printed");
        return Ok(ExitCode::FAILURE);
    }
    // What is printed must load as a spec; if it does not, that is the import's bug.
    if let Err(e) = crate::resolve::load_str("<imported spec>", &imported.spec) {
        eprint!("{}", e.render());
        eprintln!(
            "error: the imported spec does not validate (a bug in fleet import); nothing printed"
        );
        return Ok(ExitCode::from(2));
    }
    print!("{}", imported.spec);
    summary(&imported, errors);
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The stderr summary: how many containers, and per container what was not imported.
fn summary(imported: &openvz::Imported, errors: usize) {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    eprintln!(
        "imported {} ({}, {})",
        plural(imported.containers.len(), "container"),
        plural(imported.diagnostics.warnings().len(), "warning"),
        plural(errors, "error"),
    );
    let with: Vec<_> = imported
        .containers
        .iter()
        .filter(|c| !c.unmapped.is_empty())
        .collect();
    if !with.is_empty() {
        eprintln!(
            "not imported (no equivalent in Fleet, or invalid; each is listed in the spec's comments):"
        );
        for c in with {
            let keys: Vec<&str> = c.unmapped.iter().map(|u| u.key.as_str()).collect();
            eprintln!("  {} (CTID {}): {}", c.name, c.ctid, keys.join(", "));
        }
    }
    if !imported.vzctl_settings.is_empty() {
        eprintln!(
            "vz.conf: vzctl's own settings, not carried over: {}",
            imported.vzctl_settings.join(", ")
        );
    }
}
