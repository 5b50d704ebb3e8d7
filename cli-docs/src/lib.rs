//! Shell completions and man pages for Fleet's two commands, generated from their clap
//! definitions so they can never drift from the binary. `fleet` and `fleet-node` both offer
//! `completion SHELL` and `man-pages DIR` through the argument types and functions here: one
//! implementation, two callers.
//!
//! Nothing here touches the host beyond the output it is asked to write, so both verbs work as
//! any user, before any state directory exists (the .deb build runs them in a bare build root).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Command};
pub use clap_complete::Shell;

/// Arguments of `completion`: which shell to write a completion script for.
#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// Shell to complete for (bash, zsh, fish, elvish, powershell).
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `man-pages`: where to write the pages.
#[derive(Debug, Clone, Args)]
pub struct ManPagesArgs {
    /// Directory to write NAME.1 and NAME-VERB.1 into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes the completion script for `cmd` (named `bin`, as typed at the prompt) to `out`.
pub fn write_completion(shell: Shell, mut cmd: Command, bin: &str, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut cmd, bin, out);
}

/// Writes one roff page for `cmd` and one for each of its visible subcommands, nested ones
/// included (`fleet.1`, `fleet-apply.1`, ...), into `dir`; returns the files written, sorted.
///
/// Like `clap_mangen::generate_to`, which does not say what it wrote: the `help`
/// pseudo-subcommand is turned off before the tree is built, so no `fleet-help.1` appears.
pub fn write_man_pages(cmd: Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn write(cmd: Command, dir: &Path, pages: &mut Vec<PathBuf>) -> io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            write(sub.clone(), dir, pages)?;
        }
        pages.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    write(cmd, dir, &mut pages)?;
    pages.sort();
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Command {
        Command::new("demo")
            .version("1.2.3")
            .about("A demo")
            .subcommand(
                Command::new("run")
                    .about("Run it")
                    .subcommand(Command::new("fast")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn one_page_per_visible_command_and_no_help_pages() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("man1");
        let pages = write_man_pages(demo(), &dir).unwrap();
        let names: Vec<_> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["demo-run-fast.1", "demo-run.1", "demo.1"]);
        let page = std::fs::read_to_string(dir.join("demo-run.1")).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "a roff page: {page}");
        assert!(page.contains(".TH demo-run 1"), "{page}");
    }

    #[test]
    fn bash_completion_defines_the_function_and_registers_it() {
        let mut out = Vec::new();
        write_completion(Shell::Bash, demo(), "demo", &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("_demo() {"), "{script}");
        assert!(script.contains("complete -F _demo"), "{script}");
    }
}
