//! `fleet exec -t` over SSH: the local terminal's size, and its resizes sent to the remote pty
//! as the channel's window-change requests (sshd resizes its pty, and fleet-node passes that on
//! to the container's).

use std::sync::Arc;
use std::time::Duration;

use russh::ChannelWriteHalf;
use russh::client::Msg;

/// The local terminal's size as (columns, rows), from stdin, else stdout.
pub fn window_size() -> Option<(u32, u32)> {
    let size = terminal_size::terminal_size_of(std::io::stdin())
        .or_else(|| terminal_size::terminal_size_of(std::io::stdout()))?;
    let (terminal_size::Width(cols), terminal_size::Height(rows)) = size;
    Some((u32::from(cols), u32::from(rows)))
}

/// Sends a window change each time the local terminal's size changes, until the channel is
/// gone. The size is looked at four times a second rather than on SIGWINCH: tokio's signal
/// feature is not built, and a resize is a person dragging a window.
pub async fn forward(channel: Arc<ChannelWriteHalf<Msg>>) {
    let mut last = window_size();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = window_size();
        if now != last
            && let Some((cols, rows)) = now
            && channel.window_change(cols, rows, 0, 0).await.is_err()
        {
            return;
        }
        last = now;
    }
}
