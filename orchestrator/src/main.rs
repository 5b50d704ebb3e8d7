//! `fleet`: the command-line edge. Parses arguments, runs the subcommand, turns its verdict into
//! the process exit code (0 success, 1 error, 2 "changes pending" where a command says so).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = fleet::cli::Cli::parse();
    match cli.command.run() {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
