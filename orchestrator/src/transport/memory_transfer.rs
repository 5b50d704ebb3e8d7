//! Both ends of a move on the in-memory node: the source hands out its container's disk (a
//! string) in chunks of [`CHUNK`] characters, the target collects them and makes the container
//! when the "checksum" (the length and content, here) matches. Faults: a refused import, a chunk
//! that fails as a full disk would, and the session's scripted break.

use fleet_protocol::transfer::{Chunk, Export, ImageInfo};
use fleet_protocol::{DesiredState, Request, Response};

use super::memory::{Held, State};

/// Characters per chunk: small, so tests see several.
pub const CHUNK: usize = 4;

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

fn digest(disk: &str) -> String {
    format!("{}:{disk}", disk.len())
}

impl State {
    /// Answers a move request.
    pub(super) fn transfer(&mut self, request: Request) -> Response {
        let (what, name) = match &request {
            Request::ExportBegin { name, .. } => ("export-begin", name.clone()),
            Request::ExportRead { name, .. } => ("export-read", name.clone()),
            Request::ExportFinish { name } => ("export-finish", name.clone()),
            Request::ExportAbort { name } => ("export-abort", name.clone()),
            Request::ImportBegin { spec, .. } => ("import-begin", spec.name.clone()),
            Request::ImportChunk { name, .. } => ("import-chunk", name.clone()),
            Request::ImportCommit { name, .. } => ("import-commit", name.clone()),
            Request::ImportAbort { name } => ("import-abort", name.clone()),
            other => return error(format!("the in-memory node does not answer {other:?}")),
        };
        self.moves.push(format!("{what} {name}"));
        match request {
            Request::ExportBegin { name, to, .. } => {
                let Some(held) = self.containers.get_mut(&name) else {
                    return error(format!("container {name:?} not found"));
                };
                let Some(size) = held.spec.resources.disk_space else {
                    return error(format!("{name} has no disk image"));
                };
                let was_running = held.running || held.moving_to.as_ref().is_some_and(|m| m.1);
                held.running = false;
                held.moving_to = Some((to, was_running));
                let export = Export {
                    spec: held.spec.clone(),
                    image: ImageInfo {
                        size,
                        allocated: held.disk.len() as u64,
                        inodes: 0,
                    },
                    layer_ids: 0,
                    was_running,
                    checkpoint: None,
                };
                self.exports.insert(name, 0);
                Response::Exporting(Box::new(export))
            }
            Request::ExportRead { name, .. } => {
                let (Some(pos), Some(held)) =
                    (self.exports.get_mut(&name), self.containers.get(&name))
                else {
                    return error(format!("no export of {name} under way"));
                };
                if *pos >= held.disk.len() {
                    return Response::ExportData {
                        chunk: None,
                        digest: Some(digest(&held.disk)),
                    };
                }
                let end = (*pos + CHUNK).min(held.disk.len());
                let chunk = Chunk {
                    offset: *pos as u64,
                    len: (end - *pos) as u32,
                    data: held.disk[*pos..end].to_owned(),
                    stored: false,
                    raw: None,
                };
                *pos = end;
                Response::ExportData {
                    chunk: Some(chunk),
                    digest: None,
                }
            }
            Request::ExportFinish { name } => {
                self.exports.remove(&name);
                let changed = self.containers.remove(&name).is_some();
                Response::Moved { changed }
            }
            Request::ExportAbort { name } => {
                self.exports.remove(&name);
                let Some(held) = self.containers.get_mut(&name) else {
                    return Response::Moved { changed: false };
                };
                let Some((_, was_running)) = held.moving_to.take() else {
                    return Response::Moved { changed: false };
                };
                held.running = was_running;
                Response::Moved { changed: true }
            }
            Request::ImportBegin { spec, .. } => {
                if let Some(message) = &self.refuse_import {
                    return error(message.clone());
                }
                if self.containers.contains_key(&spec.name) {
                    return error(format!("a container named {} exists here", spec.name));
                }
                self.imports
                    .insert(spec.name.clone(), (*spec, String::new()));
                Response::Moved { changed: true }
            }
            Request::ImportChunk { name, chunk } => {
                let received = self
                    .moves
                    .iter()
                    .filter(|m| m.starts_with("import-chunk"))
                    .count();
                if self.full_at_chunk.is_some_and(|at| received > at) {
                    return error("write the image: No space left on device (os error 28)");
                }
                let Some((_, disk)) = self.imports.get_mut(&name) else {
                    return error(format!("no import of {name} under way"));
                };
                if chunk.offset != disk.len() as u64 || chunk.len as usize != chunk.data.len() {
                    return error(format!("chunk at {} out of order", chunk.offset));
                }
                disk.push_str(&chunk.data);
                Response::Moved { changed: true }
            }
            Request::ImportCommit {
                name, digest: want, ..
            } => {
                let Some((spec, disk)) = self.imports.remove(&name) else {
                    return error(format!("no import of {name} under way"));
                };
                if digest(&disk) != want {
                    return error(format!(
                        "checksum mismatch: got {}, the source sent {want}",
                        digest(&disk)
                    ));
                }
                let running = spec.state == DesiredState::Running;
                self.containers.insert(
                    name,
                    Held {
                        spec,
                        running,
                        disk,
                        moving_to: None,
                    },
                );
                Response::Moved { changed: true }
            }
            Request::ImportAbort { name } => Response::Moved {
                changed: self.imports.remove(&name).is_some(),
            },
            _ => unreachable!("matched above"),
        }
    }
}
