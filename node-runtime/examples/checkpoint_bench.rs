//! Downtime of a live checkpoint and restore on this host (docs/node-runtime.md): an idle
//! busybox container (`sleep infinity` under the builtin init) is frozen and dumped, its image
//! directory packed into the stream a move sends and unpacked into a new directory (in memory:
//! the network is not measured), and restored from there. Downtime is from the freeze to the
//! end of the restore (CRIU's `--restore-detached` returns once the tree runs again).
//!
//! Run as root: `FLEET_NODE_CRIU=$(scripts/criu) cargo run --release -p fleet-node --example
//! checkpoint_bench [ROUNDS]` (default 5 rounds, unprivileged then privileged).

use std::time::{Duration, Instant};

use fleet_protocol::{ContainerSpec, TemplateRef};
use node_runtime::Runtime;
use node_runtime::checkpoint::{self, CheckpointOptions, stream};

fn spec(name: &str, privileged: bool) -> ContainerSpec {
    ContainerSpec {
        privileged,
        ..ContainerSpec::new(
            "bench",
            name,
            TemplateRef::Busybox,
            vec!["sleep".into(), "infinity".into()],
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let root = tempfile::tempdir()?;
    let images = tempfile::tempdir()?;
    let parent = format!("fleet-bench-ckpt-{}", std::process::id());
    let mut runtime = Runtime::new(root.path(), &parent)?;
    runtime.criu = std::env::var_os("FLEET_NODE_CRIU").map(Into::into);
    println!("rounds per mode: {rounds}");
    for privileged in [false, true] {
        let name = if privileged {
            "bench-priv"
        } else {
            "bench-uns"
        };
        runtime.create(&spec(name, privileged))?;
        let (mut frozen, mut transfer, mut restore, mut down, mut bytes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
        for round in 0..rounds {
            let source = images.path().join(format!("{name}-{round}"));
            let target = images.path().join(format!("{name}-{round}-target"));
            let report =
                checkpoint::checkpoint(&runtime, name, &source, &CheckpointOptions::default())?;
            let sent = Instant::now();
            let mut wire = Vec::new();
            stream::pack(&source, &mut wire)?;
            stream::unpack(&mut wire.as_slice(), &target, 1 << 30)?;
            let moved = sent.elapsed();
            let restored = checkpoint::restore(&runtime, name, &target)?;
            bytes = wire.len();
            frozen.push(ms(report.frozen));
            transfer.push(ms(moved));
            restore.push(ms(restored.restore));
            down.push(ms(report.frozen + moved + restored.restore));
        }
        println!(
            "{}: downtime median {:.0} ms (each: {:?}); frozen for the dump {:.0} ms, \
             pack+unpack {:.1} ms, restore {:.0} ms; stream {} KiB",
            if privileged {
                "privileged"
            } else {
                "unprivileged"
            },
            median(down.clone()),
            down.iter().map(|d| d.round() as u64).collect::<Vec<_>>(),
            median(frozen),
            median(transfer),
            median(restore),
            bytes / 1024
        );
        runtime.destroy(name)?;
    }
    runtime.cgroups.remove_parent(&parent);
    Ok(())
}
