//! `fleet-node`: the per-host command (admin CLI and protocol server).
use clap::Parser;

fn main() {
    let cli = node_runtime::cli::Cli::parse();
    match node_runtime::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("fleet-node: error: {e}");
            std::process::exit(1);
        }
    }
}
