//! A session whose remote command ends while fleet is writing to it: the write fails, it does
//! not wait forever. (A node killed while an image chunk travelled left the channel's window
//! used up; the writer waited for a window adjustment that never came, and a cut-off move hung
//! its apply.) Run against a real OpenSSH server.

mod support;

use std::time::Duration;

use fleet::model::Transport;
use fleet::transport::{ConnectOptions, ssh};
use support::sshd::Cluster;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_write_to_a_command_that_died_without_reading_fails_instead_of_hanging() {
    let Some(cluster) = Cluster::start_if_ready(1) else {
        return;
    };
    let host = &cluster.hosts()[0];
    let Transport::Ssh(target) = &host.transport else {
        unreachable!("the cluster's hosts are ssh hosts")
    };
    // The command never reads its input and exits after a second, as a killed node would:
    // sshd takes one window's worth (about 2 MiB) and then no more.
    let argv: Vec<String> = ["sh", "-c", "sleep 1"].map(String::from).to_vec();
    let mut session = ssh::open(&host.name, target, &argv, &ConnectOptions::default())
        .await
        .expect("open the session");
    let data = vec![0u8; 16 << 20];
    let write = tokio::time::timeout(Duration::from_secs(60), session.stream.write_all(&data))
        .await
        .expect("the write ends once the remote command is gone");
    let error = write.expect_err("16 MiB cannot reach a command that never read them");
    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
}
