//! `fleet-node boot`: start every onboot container (from the host's boot); exits 1 when any
//! failed to start, after trying them all.

use std::io::Write;

use crate::container::Runtime;
use crate::error::Result;

/// Runs `boot`; returns the process exit code.
pub fn run(runtime: &Runtime, out: &mut impl Write) -> Result<i32> {
    let mut failed = 0;
    for (name, result) in runtime.boot()? {
        match result {
            Ok(changed) => super::report(out, &name, changed, "started", "already running"),
            Err(e) => {
                failed += 1;
                eprintln!("fleet-node: {name}: {e}");
            }
        }
    }
    Ok(i32::from(failed > 0))
}
