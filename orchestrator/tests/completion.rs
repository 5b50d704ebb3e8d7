//! `fleet completion SHELL` and `fleet man-pages DIR`, checked the way a user meets them: the
//! bash script loaded into a real bash completes a verb and a flag, and the pages render with
//! man (or at least parse with groff) and name every verb. fleet-node's are checked in its
//! package test (node-runtime/tests/portability).

#[path = "support/command.rs"]
mod command;

use std::process::Command;

use command::stdout_of;

fn fleet(args: &[&str]) -> String {
    stdout_of(
        &format!("fleet {args:?}"),
        Command::new(env!("CARGO_BIN_EXE_fleet")).args(args),
    )
}

/// Loads the script into `bash --norc`, then runs `_fleet` as bash's completion would for the
/// words typed so far; returns the candidates, one per line.
fn complete(script: &std::path::Path, words: &[&str]) -> String {
    let program = r#"source "$1"; shift
complete -p fleet >/dev/null || { echo "no completion registered for fleet" >&2; exit 1; }
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_fleet fleet "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#;
    stdout_of(
        &format!("completing {words:?}"),
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", program, "bash"])
            .arg(script)
            .args(words),
    )
}

#[test]
fn bash_completion_loads_and_completes_verbs_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fleet.bash");
    std::fs::write(&script, fleet(&["completion", "bash"])).unwrap();

    let verbs = complete(&script, &["fleet", "ap"]);
    assert_eq!(verbs.trim(), "apply", "{verbs}");
    let all: Vec<String> = complete(&script, &["fleet", ""])
        .lines()
        .map(str::to_owned)
        .collect();
    for verb in [
        "validate",
        "plan",
        "apply",
        "bootstrap",
        "completion",
        "man-pages",
    ] {
        assert!(all.iter().any(|c| c == verb), "{verb} missing from {all:?}");
    }
    let flags = complete(&script, &["fleet", "plan", "--detailed"]);
    assert_eq!(flags.trim(), "--detailed-exitcode", "{flags}");
}

#[test]
fn zsh_and_fish_scripts_name_the_command() {
    let zsh = fleet(&["completion", "zsh"]);
    assert!(zsh.starts_with("#compdef fleet"), "{zsh}");
    assert!(zsh.contains("'apply:"), "zsh script lists apply");
    let fish = fleet(&["completion", "fish"]);
    assert!(fish.contains("complete -c fleet"), "{fish}");
    assert!(fish.contains("-a \"apply\""), "fish script lists apply");
}

#[test]
fn unknown_shell_is_refused_naming_the_valid_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'tcsh'") && stderr.contains("bash"),
        "{stderr}"
    );
}

#[test]
fn man_pages_cover_every_verb_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let listed = fleet(&["man-pages", dir.path().to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        listed.lines().count(),
        names.len(),
        "it prints each page it wrote: {listed}"
    );
    for verb in ["apply", "plan", "bootstrap", "get", "completion"] {
        assert!(
            names.contains(&format!("fleet-{verb}.1")),
            "no page for {verb}: {names:?}"
        );
    }
    assert!(names.contains(&"fleet.1".to_owned()));
    assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");

    let page = dir.path().join("fleet-apply.1");
    let roff = std::fs::read_to_string(&page).unwrap();
    for mark in [
        ".TH fleet-apply 1",
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
    ] {
        assert!(roff.contains(mark), "{mark} missing:\n{roff}");
    }
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output();
    match rendered {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "man -l failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                text.contains("fleet-apply - Make every host match the spec"),
                "{text}"
            );
            assert!(text.contains("--lock-timeout"), "{text}");
        }
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("man cannot run ({e}): apt-get install man-db")
        }
        Err(e) => eprintln!("man pages not rendered (man: {e}); roff structure checked only"),
    }
}
