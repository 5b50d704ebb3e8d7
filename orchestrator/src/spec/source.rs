//! The files a spec was loaded from, kept so that errors can quote the offending line.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::node::Pos;

/// Largest spec file accepted; a bigger one is refused before it is parsed.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// One loaded file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user named it (or `<embedded>`), for messages.
    pub name: String,
    /// Full text.
    pub text: String,
    /// Where each line starts, built the first time a line is quoted: a spec with thousands of
    /// errors quotes each line without rescanning the file.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// The text of 1-based line `line`, without its line ending.
    pub fn line(&self, line: u32) -> Option<&str> {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .filter(|&start| start < self.text.len())
                .collect()
        });
        let start = *starts.get(line.checked_sub(1)? as usize)?;
        let rest = &self.text[start..];
        let text = rest.split_once('\n').map_or(rest, |(l, _)| l);
        Some(text.strip_suffix('\r').unwrap_or(text))
    }
}

/// All files of one load, indexed by [`Pos::file`].
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its index.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> u32 {
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        });
        (self.files.len() - 1) as u32
    }

    /// The file with this index.
    pub fn file(&self, id: u32) -> Option<&SourceFile> {
        self.files.get(id as usize)
    }

    /// Number of files loaded.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `file:line:col` for a position.
    pub fn locate(&self, pos: Pos) -> String {
        let name = self.file(pos.file).map_or("<unknown>", |f| f.name.as_str());
        format!("{name}:{}:{}", pos.line, pos.column)
    }

    /// The text of the line a position is on, without its newline.
    pub fn line_text(&self, pos: Pos) -> Option<&str> {
        self.file(pos.file)?.line(pos.line)
    }
}

/// Expands the paths given with `-f`: a directory stands for its `*.yaml` and `*.yml` files in
/// sorted order (not recursing), a file for itself.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| (path.clone(), e))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| (path.clone(), e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| is_yaml(p) && p.is_file())
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_those_of_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "\n\nx\n", "x\n\n"] {
            let mut sources = Sources::default();
            let id = sources.add("t", text);
            let file = sources.file(id).unwrap();
            let want: Vec<&str> = text.lines().collect();
            let got: Vec<&str> = (1..=want.len() as u32 + 1)
                .map_while(|l| file.line(l))
                .collect();
            assert_eq!(got, want, "{text:?}");
            assert_eq!(file.line(0), None);
        }
    }
}
