//! The frames init's children send fleet-node on the report pipe during a start: a tag byte,
//! the payload's length (u32, big endian), the payload. `P` carries init's host pid, `E` an
//! error; end of file means the command runs. Shared by `container/spawn.rs` and `fleet-init`
//! (`program.rs`), which reports a command it could not start.

/// One frame.
pub fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(5 + payload.len());
    msg.push(tag);
    msg.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    msg.extend_from_slice(payload);
    msg
}
