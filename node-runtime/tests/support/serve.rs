//! One `fleet-node serve --stdio` session driven frame by frame, as the orchestrator speaks to
//! a node (server.rs, the checkpoint and snapshot tests).

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use super::Node;

/// One `fleet-node serve --stdio` session of `node`, greeted: frames out, frames in, as the
/// orchestrator speaks them.
pub struct ServeSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    next: u64,
    /// The node's answer to the hello (the body).
    pub hello: serde_json::Value,
}

impl ServeSession {
    /// Starts the server and says hello.
    pub fn open(node: &Node) -> ServeSession {
        Self::open_with(node, &[])
    }

    /// [`ServeSession::open`] with global flags before `serve` (`--criu PATH`).
    pub fn open_with(node: &Node, flags: &[&str]) -> ServeSession {
        let mut s = Self::start_with(node, flags);
        s.hello = s.ask(
            serde_json::json!({"type": "hello", "protocol_version": 1, "client": "test-client"}),
        );
        assert_eq!(s.hello["type"], "hello", "{}", s.hello);
        s
    }

    /// Starts the server and says nothing yet: the first frames are the caller's.
    pub fn start(node: &Node) -> ServeSession {
        Self::start_with(node, &[])
    }

    fn start_with(node: &Node, flags: &[&str]) -> ServeSession {
        let mut args = flags.to_vec();
        args.extend(["serve", "--stdio"]);
        let mut child = node
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        ServeSession {
            child,
            stdin: Some(stdin),
            stdout,
            next: 0,
            hello: serde_json::Value::Null,
        }
    }

    /// Sends `body` with the next id and returns the answer's body.
    pub fn ask(&mut self, body: serde_json::Value) -> serde_json::Value {
        let id = self.send(body);
        let reply = self.recv();
        assert_eq!(reply["id"], id);
        reply["body"].clone()
    }

    /// Sends `body` with the next id, which it returns; the answers are read with [`recv`].
    ///
    /// [`recv`]: ServeSession::recv
    pub fn send(&mut self, body: serde_json::Value) -> u64 {
        self.next += 1;
        let payload = serde_json::json!({"id": self.next, "body": body}).to_string();
        self.send_frame(payload.as_bytes());
        self.next
    }

    /// Sends `payload` as one frame, whatever it holds (malformed frames included).
    pub fn send_frame(&mut self, payload: &[u8]) {
        let stdin = self.stdin.as_mut().expect("session open");
        stdin
            .write_all(&(payload.len() as u32).to_be_bytes())
            .unwrap();
        stdin.write_all(payload).unwrap();
        stdin.flush().unwrap();
    }

    /// The next frame the node sends, whole (`id` and `body`).
    pub fn recv(&mut self) -> serde_json::Value {
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stdout.read_exact(&mut buf).unwrap();
        serde_json::from_slice(&buf).unwrap()
    }

    /// Ends the session as a client does: end of input, then the node exits by itself.
    pub fn close(&mut self) -> std::process::ExitStatus {
        self.stdin.take();
        self.child.wait().unwrap()
    }
}

impl Drop for ServeSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
