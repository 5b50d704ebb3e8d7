//! `fleet`: the command-line edge. Parses arguments, runs the subcommand, turns its verdict into
//! the process exit code (0 success, 1 error, 2 "changes pending" where a command says so).

use std::io::IsTerminal as _;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Reports wrap at the terminal's width; into a pipe or a CI log they are not wrapped at
    // all, so a message stays one line that grep and annotations can find whole.
    if !std::io::stderr().is_terminal() {
        let _ = miette::set_hook(Box::new(|_| {
            Box::new(miette::MietteHandlerOpts::new().width(usize::MAX).build())
        }));
    }
    let cli = fleet::cli::Cli::parse();
    match cli.command.run() {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
