//! The socket as hyper sees it, with the idle, head and send timers.
//!
//! hyper's own `header_read_timeout` starts when hyper begins waiting for a head,
//! so it also counts the time a keep-alive connection sits idle: with it alone, a
//! client that pauses longer than the header timeout between two requests is cut
//! off, and one that trickles a head is allowed the idle time on top. This wrapper
//! knows (through [`ConnState`]) whether a request is in flight, so it runs the
//! timers separately:
//!
//! - between requests, before any byte of the next head: the idle timer, counted
//!   from the connection's last activity;
//! - from the first byte of a head until hyper hands the request over: the head
//!   timer;
//! - while a request is in flight: no read timeout at all (the body has its own,
//!   see [`super::body`], and hyper's mid-message reads only probe for EOF); the
//!   timer only stays armed to wake the task after the request, because hyper
//!   may not read again by itself once the response is out;
//! - whenever the socket will not take response bytes: the send timer, reset by
//!   every byte the client accepts.
//!
//! A timer that fires makes the pending read or write fail with `TimedOut`, and
//! hyper closes the connection.
//!
//! "Blocked" must mean "the client took nothing": by default Linux wakes a
//! blocked writer only once a third of the send buffer (autotuned up to 4 MiB)
//! has drained, so a slow reader could take bytes for longer than the send
//! timeout without the socket ever turning writable. The accept loop therefore
//! sets `TCP_NOTSENT_LOWAT` (see [`super::NOTSENT_LOWAT`]): the socket then turns
//! writable as soon as half of that much unsent data has gone out, so every
//! [`super::NOTSENT_LOWAT`]` / 2` bytes the client takes end a blocked run.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::registry::{ConnState, ReadPhase, instant_at};

/// The three timeouts the wrapper enforces.
#[derive(Clone, Copy, Debug)]
pub(super) struct IoTimeouts {
    /// No request in flight and no byte received.
    pub(super) idle: Duration,
    /// First byte of a request head to its end.
    pub(super) header: Duration,
    /// No response byte accepted by the client.
    pub(super) send: Duration,
}

/// A [`TcpStream`] with read and write deadlines.
#[derive(Debug)]
pub(super) struct TimedIo {
    stream: TcpStream,
    conn: Arc<ConnState>,
    timeouts: IoTimeouts,
    /// Allocated on first use; reset, never reallocated.
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// When the current run of blocked writes must end.
    write_deadline: Option<Instant>,
}

impl TimedIo {
    pub(super) fn new(stream: TcpStream, conn: Arc<ConnState>, timeouts: IoTimeouts) -> Self {
        Self { stream, conn, timeouts, read_timer: None, write_timer: None, write_deadline: None }
    }

    /// A write found the socket full: arms the send timer (once per run of
    /// blocked writes) and tells whether it has expired.
    fn write_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.conn.write_would_block();
        let send = self.timeouts.send;
        let deadline = *self.write_deadline.get_or_insert_with(|| Instant::now() + send);
        expired(&mut self.write_timer, deadline, cx)
    }

    fn wrote(&mut self, n: usize) {
        if n > 0 {
            self.write_deadline = None;
            self.conn.bytes_written();
        }
    }
}

/// Tells whether `deadline` has passed, and makes sure the task wakes by then.
///
/// The idle deadline moves later with every request on a keep-alive connection;
/// re-registering the timer each time would cost a timer-wheel update per
/// request. So a timer that is due earlier than `deadline` is left alone: it
/// fires early at most once per timeout period, and is moved then.
fn expired(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    if timer.as_mut().poll(cx).is_pending() {
        return false;
    }
    if Instant::now() >= deadline {
        return true;
    }
    // It fired for an earlier deadline that has since moved on.
    timer.as_mut().reset(deadline);
    timer.as_mut().poll(cx).is_ready()
}

fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl AsyncRead for TimedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.conn.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.conn.read_deadline(this.timeouts.idle, this.timeouts.header) {
                None => {
                    // A request is in flight: no read timeout applies. But hyper
                    // may not read again by itself once the response is out, so a
                    // timer stays armed to wake the task (at most once per idle
                    // period; an earlier one is left alone) and start the idle
                    // timer then.
                    let _ = expired(&mut this.read_timer, Instant::now() + this.timeouts.idle, cx);
                    Poll::Pending
                }
                Some((at, phase)) => {
                    if expired(&mut this.read_timer, instant_at(at), cx) {
                        Poll::Ready(Err(timed_out(match phase {
                            ReadPhase::Idle => "idle connection timed out",
                            ReadPhase::Head => "request head not received in time",
                        })))
                    } else {
                        Poll::Pending
                    }
                }
            },
        }
    }
}

impl TimedIo {
    /// Counts written bytes as progress, or fails a write blocked past the send
    /// timeout.
    fn after_write(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) => {
                self.wrote(n);
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.write_expired(cx) => Poll::Ready(Err(timed_out("client stopped reading the response"))),
            other => other,
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.after_write(cx, polled)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
