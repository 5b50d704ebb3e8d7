//! A writer that fails once the channel it writes into has closed.
//!
//! russh's channel writer waits for the peer's window to open before it sends more. When the
//! remote command dies with the window used up (a node killed while an image chunk travels),
//! no window adjustment ever comes, and russh does not wake a waiting writer when the channel
//! closes: the write, and the whole move or apply behind it, would wait forever. The channel's
//! reader task sees the close (or the connection's end, found by keepalives) and cancels a
//! token; from then on every write here fails with `BrokenPipe`, so the session's caller reads
//! the end of the stream and reports the lost session like any other.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Wraps `W`; writes fail with `BrokenPipe` once `closed` is cancelled, also while one waits.
pub struct ClosingWriter<W> {
    inner: W,
    closed: Pin<Box<WaitForCancellationFutureOwned>>,
    token: CancellationToken,
}

impl<W> ClosingWriter<W> {
    /// `inner` stops being written to when `closed` is cancelled.
    pub fn new(inner: W, closed: CancellationToken) -> Self {
        ClosingWriter {
            inner,
            closed: Box::pin(closed.clone().cancelled_owned()),
            token: closed,
        }
    }

    /// Ready with the error once the channel has closed; else registers the waker for it.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.token.is_cancelled() || self.closed.as_mut().poll(cx).is_ready() {
            Poll::Ready(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the SSH channel closed",
            ))
        } else {
            Poll::Pending
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for ClosingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(e) = self.poll_closed(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(e) = self.poll_closed(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is left to tell a closed channel: shutting down succeeds.
        if self.poll_closed(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A writer whose peer never reads: every write after the first is pending forever.
    struct Stuck;

    impl AsyncWrite for Stuck {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_write_waiting_on_a_closed_channel_fails_instead_of_waiting_forever() {
        let token = CancellationToken::new();
        let mut writer = ClosingWriter::new(Stuck, token.clone());
        let closer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token.cancel();
        });
        let result = tokio::time::timeout(Duration::from_secs(10), writer.write_all(b"chunk"))
            .await
            .expect("the write ends when the channel closes");
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        closer.await.unwrap();
        // And every later write fails at once.
        assert!(writer.write_all(b"more").await.is_err());
        writer.shutdown().await.unwrap();
    }
}
