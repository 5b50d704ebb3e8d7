//! `fleet capacity`: density planning from the spec (and, with `--observe`, from what the
//! nodes report): allocated versus capacity per host, room for more of a profile, what-if,
//! drain, hosts needed; as a table, JSON or a self-contained HTML report.
//!
//! Neighbours: the figures come from `capacity` and `schedule`; this file only reads
//! arguments, loads fleets and writes the chosen rendering.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use super::ConnectArgs;
use super::SpecArgs;
use crate::capacity::{self, Basis, Report};
use crate::model::Fleet;
use crate::resolve::{self, profile::ProfileError};
use crate::schedule::{self, Amounts, HostShape, Options};

/// Output form of `fleet capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for a terminal.
    Table,
    /// The whole report as JSON.
    Json,
    /// One self-contained HTML page with charts.
    Html,
}

/// Arguments of `fleet capacity`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  fleet capacity -f fleet.yaml\n  \
fleet capacity -f fleet.yaml --fit medium\n  \
fleet capacity -f fleet.yaml --fit cpu=200%,memory=4Gi,disk=20Gi --on zone=a\n  \
fleet capacity -f fleet.yaml --drain node-3\n  \
fleet capacity -f fleet.yaml --what-if fleet-next.yaml\n  \
fleet capacity -f fleet.yaml --hosts-needed cpus=32,memory=128Gi,disk=2Ti,cpu_overcommit=2\n  \
fleet capacity -f fleet.yaml -o html --out capacity.html\n\n\
Exit status: 0 when every container has a place (and a drained host's containers fit\n\
elsewhere), 1 otherwise or on bad input.")]
pub struct Args {
    #[command(flatten)]
    spec: SpecArgs,
    /// How many more containers of this profile (a profile name, or a shape such as
    /// cpu=100%,memory=1Gi,disk=10Gi) fit per host and in all.
    #[arg(long, value_name = "PROFILE|SHAPE")]
    fit: Option<String>,
    /// With --fit: only count hosts carrying this label (repeatable).
    #[arg(long = "on", value_name = "LABEL=VALUE", requires = "fit")]
    on: Vec<String>,
    /// A changed fleet (hosts or containers added or removed): show its placement and density
    /// next to the current one. Touches nothing.
    #[arg(long = "what-if", value_name = "PATH")]
    what_if: Vec<PathBuf>,
    /// Whether this host's containers fit on the others, and where each would go.
    #[arg(long, value_name = "HOST")]
    drain: Option<String>,
    /// The least number of hosts of this shape (a host's name, or
    /// cpus=N,memory=SIZE,disk=SIZE[,cpu_overcommit=R][,memory_overcommit=R]) the spec needs.
    #[arg(long = "hosts-needed", value_name = "HOST|SHAPE")]
    hosts_needed: Option<String>,
    /// Ask the nodes for their capacity and for where containers run now (else the spec alone).
    #[arg(long)]
    observe: bool,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output form.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Write the report to this file instead of standard output.
    #[arg(long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

/// What to compute, once the fleets are loaded; everything but loading is pure.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--fit`: a name for display and the shape.
    pub fit: Option<(String, Amounts)>,
    /// `--on`.
    pub fit_selector: BTreeMap<String, String>,
    /// `--drain`.
    pub drain: Option<String>,
    /// `--hosts-needed`, already resolved to a shape.
    pub hosts_needed: Option<HostShape>,
}

/// Computes the report against `basis` (what the nodes told, when observed): pure, so tests
/// call it with fleets built in code.
pub fn build(
    fleet: &Fleet,
    what_if: Option<&Fleet>,
    request: &Request,
    basis: &Basis,
) -> Result<Report, String> {
    let (placement, density) = capacity::assess(fleet, basis);
    let fit = request
        .fit
        .as_ref()
        .map(|(name, shape)| capacity::fit(fleet, &density, name, *shape, &request.fit_selector));
    let drain = match &request.drain {
        Some(host) => Some(capacity::drain(fleet, &placement, host, basis)?),
        None => None,
    };
    let what_if = what_if.map(|after| capacity::what_if(fleet, &placement, after, basis));
    let hosts_needed = request
        .hosts_needed
        .as_ref()
        .map(|shape| schedule::hosts_needed(fleet, shape, &basis.options.defaults));
    Ok(Report {
        density,
        placement,
        fit,
        drain,
        what_if,
        hosts_needed,
    })
}

/// Renders a report in the chosen form.
pub fn render(report: &Report, output: Output) -> String {
    match output {
        Output::Table => capacity::table::render(report),
        Output::Json => {
            let mut s = serde_json::to_string_pretty(report).expect("the report serializes");
            s.push('\n');
            s
        }
        Output::Html => capacity::html::render(report),
    }
}

/// Runs `fleet capacity`.
pub fn run(args: Args) -> miette::Result<ExitCode> {
    let Some(fleet) = super::load(&args.spec) else {
        return Ok(ExitCode::FAILURE);
    };
    let what_if = if args.what_if.is_empty() {
        None
    } else {
        match resolve::load(&args.what_if) {
            Ok(f) => Some(f),
            Err(e) => {
                eprint!("{}", e.render());
                eprintln!("\nin --what-if: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    let request = match request(&args, &fleet) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let basis = if args.observe {
        observe(&fleet, &args.connect)?
    } else {
        Basis::default()
    };
    let report = match build(&fleet, what_if.as_ref(), &request, &basis) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let text = render(&report, args.output);
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    let all_placed = report.density.unplaced.is_empty()
        && report.drain.as_ref().is_none_or(|d| d.fits)
        && report
            .what_if
            .as_ref()
            .is_none_or(|w| w.density.unplaced.is_empty());
    Ok(if all_placed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn request(args: &Args, fleet: &Fleet) -> Result<Request, String> {
    let fit = match &args.fit {
        None => None,
        Some(text) if text.contains('=') => Some((text.clone(), capacity::parse_shape(text)?)),
        Some(name) => Some((name.clone(), profile_shape(&args.spec, name)?)),
    };
    let mut fit_selector = BTreeMap::new();
    for pair in &args.on {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid --on {pair:?}: expected LABEL=VALUE such as zone=a"))?;
        fit_selector.insert(k.trim().to_string(), v.trim().to_string());
    }
    let hosts_needed = match &args.hosts_needed {
        None => None,
        Some(text) if text.contains('=') => Some(capacity::parse_host_shape(text)?),
        Some(name) => {
            let host = fleet.host(name).ok_or_else(|| {
                format!("--hosts-needed {name}: no such host; name a host or give a shape such as cpus=32,memory=128Gi,disk=2Ti")
            })?;
            Some(HostShape::of(host).ok_or_else(|| {
                format!("--hosts-needed {name}: the host's capacity is not fully declared in the spec; give a shape such as cpus=32,memory=128Gi,disk=2Ti")
            })?)
        }
    };
    Ok(Request {
        fit,
        fit_selector,
        drain: args.drain.clone(),
        hosts_needed,
    })
}

/// The demand of one container of profile `name`, as the spec (or the built-in profiles)
/// define it, `extends` chains and the spec's own profiles counted exactly as for real
/// containers (`resolve::profile`).
fn profile_shape(spec: &SpecArgs, name: &str) -> Result<Amounts, String> {
    if !resolve::valid_name(name) {
        return Err(format!(
            "invalid profile name {name:?}: use a profile name or a shape such as cpu=100%,memory=1Gi,disk=10Gi"
        ));
    }
    match resolve::profile::resources(&spec.files, name) {
        Ok(r) => Ok(schedule::demand_of(
            &r,
            &schedule::DemandDefaults::default(),
        )),
        Err(ProfileError::Spec(e)) => Err(format!("--fit {name}: {}", e.render())),
        Err(e) => Err(format!("--fit {name}: {e}")),
    }
}

/// Capacity and current placement from the nodes; unreachable hosts are reported and left to
/// the spec's figures.
fn observe(fleet: &Fleet, connect: &ConnectArgs) -> miette::Result<Basis> {
    let rt = super::runtime()?;
    let observed = rt.block_on(crate::observe::observe_then_close(
        &fleet.hosts,
        &connect.options(),
        connect.parallel,
        true,
    ));
    for (host, error) in observed.unreachable() {
        eprintln!("warning: host {host} is unreachable ({error}); using the spec's figures");
    }
    Ok(Basis {
        capacity: observed.capacities(),
        current: observed.current(&fleet.name),
        usage: observed.usage(),
        options: Options::default(),
    })
}
