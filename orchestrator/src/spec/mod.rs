//! The spec language: YAML files in, raw documents with positions out.
//!
//! `load` reads the files named with `-f` (a directory stands for its `*.yaml`/`*.yml`), parses
//! each under serde-saphyr's budgets into positioned trees (`node`), and decodes them into
//! `raw` documents (`decode`, using the typed readers of `fields`), collecting every problem as a
//! located `Diagnostic`. Its neighbour downstream is `crate::resolve`, which checks references and
//! turns raw documents into the resolved `crate::model::Fleet`.

pub mod build;
pub mod decode;
pub mod diagnostic;
pub mod events;
pub mod fields;
pub mod keys;
pub mod node;
pub mod quick;
pub mod raw;
pub mod resources;
pub mod restart;
pub mod security;
pub mod source;
pub mod suggest;

use std::path::PathBuf;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use raw::Document;
pub use source::Sources;

/// The documents of one load, with the sources they came from.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The files read.
    pub sources: Sources,
    /// Their documents, in file order then document order.
    pub documents: Vec<Document>,
}

/// Reads and decodes the files named by `paths`, recording problems in `d`.
pub fn load_paths(paths: &[PathBuf], d: &mut Diagnostics) -> Loaded {
    let mut loaded = Loaded::default();
    if paths.is_empty() {
        d.push(Diagnostic::general("no spec files given").hint("name them with -f FILE or -f DIR"));
        return loaded;
    }
    let files = match source::expand_paths(paths) {
        Ok(files) => files,
        Err((path, e)) => {
            d.push(Diagnostic::general(format!(
                "cannot read {}: {e}",
                path.display()
            )));
            return loaded;
        }
    };
    if files.is_empty() {
        d.push(
            Diagnostic::general("no *.yaml or *.yml files found in the given directories")
                .hint("name spec files with -f FILE"),
        );
    }
    for file in files {
        let name = file.display().to_string();
        match read_limited(&file) {
            Ok(text) => load_text(&mut loaded, name, text, d),
            Err(message) => d.push(Diagnostic::general(format!(
                "cannot read {name}: {message}"
            ))),
        }
    }
    loaded
}

/// Decodes one file's text (already read) into `loaded`. The entries of each document's lists
/// are decoded as the parser completes them, so the file's whole tree is never held at once.
/// The quick scanner reads the file if it can, else the full parser (see `quick.rs`).
pub fn load_text(loaded: &mut Loaded, name: String, text: String, d: &mut Diagnostics) {
    let id = loaded.sources.add(name, text);
    let text = &loaded.sources.file(id).expect("just added").text;
    let mut read = read_with(text, id, build::Reader::Quick);
    if matches!(read.0, Err(build::Stop::Unsupported)) {
        read = read_with(text, id, build::Reader::Full);
    }
    let (docs, entries, entry_problems) = read;
    match docs {
        Ok(docs) => {
            // Problems found in entries count only if the file parses: a YAML error is
            // reported alone.
            d.append(entry_problems);
            let mut entries = entries;
            entries.resize_with(docs.len(), Default::default);
            loaded.documents.extend(
                docs.iter()
                    .zip(entries)
                    .filter_map(|(n, e)| decode::document_with(n, e, d)),
            );
        }
        Err(build::Stop::Failed(e)) => d.push(yaml_error(&e)),
        Err(build::Stop::Unsupported) => unreachable!("the full parser reads all of YAML"),
    }
}

/// One reading of a file: its documents' trees (top-level list items taken out), the entries
/// decoded from those items, and the problems found in them.
type Read = (
    Result<Vec<node::Node>, build::Stop>,
    Vec<decode::Entries>,
    Diagnostics,
);

fn read_with(text: &str, id: u32, reader: build::Reader) -> Read {
    let mut entry_problems = Diagnostics::default();
    let mut entries: Vec<decode::Entries> = Vec::new();
    let mut take = |doc: usize, list: &str, item: node::Node| {
        if entries.len() <= doc {
            entries.resize_with(doc + 1, Default::default);
        }
        if entries[doc].add(list, &item, &mut entry_problems) {
            None
        } else {
            Some(item)
        }
    };
    let docs = build::parse_with(text, id, &mut take, reader);
    (docs, entries, entry_problems)
}

fn yaml_error(e: &node::ParseError) -> Diagnostic {
    let message = format!("invalid YAML: {}", e.message);
    match e.pos {
        Some(pos) if pos.line > 0 => Diagnostic::at(pos, message),
        _ => Diagnostic::general(message),
    }
}

fn read_limited(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > source::MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes; spec files may be at most {} bytes (split the fleet into several files)",
            meta.len(),
            source::MAX_FILE_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "file is not valid UTF-8".to_string())
}
