//! `completion` and `man-pages`: answered from the clap definition alone, before any state
//! directory or cgroup is opened, so they work as any user, on a machine that is not a node
//! yet, and in the bare root where the .deb is assembled. The generators are shared with `fleet`
//! (crate `fleet-cli-docs`).

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, Command};
use crate::error::{Result, io_err};

/// Answers `completion` and `man-pages` with the process exit code; `None` for the other verbs.
pub fn run(command: &Command) -> Option<Result<i32>> {
    match command {
        Command::Completion(args) => {
            let mut out = std::io::stdout().lock();
            cli_docs::write_completion(args.shell, Cli::command(), "fleet-node", &mut out);
            Some(Ok(0))
        }
        Command::ManPages(args) => Some(
            cli_docs::write_man_pages(Cli::command(), &args.dir)
                .map_err(io_err("write man pages to", &args.dir))
                .map(|pages| {
                    let mut out = std::io::stdout().lock();
                    for page in pages {
                        let _ = writeln!(out, "{}", page.display());
                    }
                    0
                }),
        ),
        _ => None,
    }
}
