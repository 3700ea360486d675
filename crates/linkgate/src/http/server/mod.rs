//! The connection layer: accepts TCP connections and serves HTTP/1.1 on them
//! within the `[limits]` of the configuration.
//!
//! `axum::serve` has no connection-level limits, so idle sockets, heads trickled a
//! byte at a time and bodies that never finish all stayed open forever, and a few
//! thousand of them locked every client out. Here:
//!
//! - idle, head and send timeouts live in the socket wrapper ([`io`]), which knows
//!   whether a request is in flight, so they never count each other's time;
//! - the body-progress timeout lives in the request body ([`body`]) and runs only
//!   while a handler waits for the body;
//! - the connection table ([`registry`]) caps open connections: at the cap the
//!   connection idle longest makes room, and if none is idle the newcomer is
//!   answered 503 — accept is never stopped, since a full backlog is what locks
//!   clients out;
//! - request heads over `max_header_bytes` get S3's error ([`service`]); hyper's
//!   hard caps, well above, keep memory bounded whatever is sent.

pub mod body;
mod io;
mod registry;
mod service;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub use body::{BodyTimeout, is_body_timeout};

use crate::config::LimitsConfig;
use io::{IoTimeouts, TimedIo};
use registry::{Entry, Registry};
use service::ConnService;

/// What a request knows about the connection it came on (a request extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (always false until TLS lands).
    pub tls: bool,
}

/// How long connections may take to finish their requests at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Budget for answering a newcomer 503 when the table is full of busy connections.
const REJECT_BUDGET: Duration = Duration::from_secs(2);
/// At most this many 503s are written politely at once; beyond, the newcomer gets
/// one non-blocking write and is closed at once.
const MAX_REJECTING: usize = 64;
/// Descriptors the process needs besides connections: the listener, the
/// database, connections being answered 503, upstream sockets.
const FD_RESERVE: u64 = 256;
/// Descriptors one connection may hold: its socket and the object file its
/// request streams from or to (a download holds it as long as the client reads).
const FDS_PER_CONNECTION: u64 = 2;
/// hyper's hard cap on the request head is this many times `max_header_bytes`
/// (at least [`MIN_HARD_HEAD_BYTES`]): between the two, S3's error; beyond, 431.
const HARD_HEAD_FACTOR: usize = 4;
const MIN_HARD_HEAD_BYTES: usize = 16 * 1024;
/// Smallest `max_buf_size` (it is the hard head cap if that is larger). It caps
/// hyper's read buffer (so a body arrives in reads of up to this much) and the
/// response bytes hyper queues before it pulls the next chunk. hyper's default
/// (~400 KiB) let one connection's read buffer reach ~800 KiB; at 32 KiB a
/// connection's read buffer stays under ~48 KiB (Vec growth: 8, 24, 48 KiB).
const MIN_BUF_BYTES: usize = 32 * 1024;
/// `TCP_NOTSENT_LOWAT`: at most this many unsent bytes queue in the kernel; a
/// client must take half of it within `send_timeout_secs` to count as reading.
const NOTSENT_LOWAT: u32 = 128 * 1024;
/// Back-off after an accept error (EMFILE and the like), doubling up to the max.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// The listen backlog asked for (Linux caps it at `net.core.somaxconn`, 4096 by
/// default). tokio's `TcpListener::bind` asks for 1024: a burst of connects
/// beyond that overflowed the accept queue, and the kernel dropped the
/// overflow half-open — the clients believed they were connected while the
/// server never saw them (`bench/attack_bench.py`: 80–157 of 2,000 idle sockets
/// never closed, none of them held by the server).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the server's listening socket with [`LISTEN_BACKLOG`] (and
/// `SO_REUSEADDR`, as `TcpListener::bind` sets it, so a restart does not wait for
/// old connections' `TIME_WAIT`).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The limits in the form the connection layer uses them.
#[derive(Debug)]
struct Settings {
    max_connections: usize,
    io: IoTimeouts,
    body_timeout: Duration,
    max_header_bytes: usize,
    http: http1::Builder,
}

impl Settings {
    fn new(limits: &LimitsConfig, max_connections: usize) -> Self {
        let io = IoTimeouts {
            idle: Duration::from_secs(limits.idle_timeout_secs),
            header: Duration::from_secs(limits.header_timeout_secs),
            send: Duration::from_secs(limits.send_timeout_secs),
        };
        let hard_head = limits.max_header_bytes.saturating_mul(HARD_HEAD_FACTOR).max(MIN_HARD_HEAD_BYTES);
        let mut http = http1::Builder::new();
        http.keep_alive(true)
            .max_header_size(hard_head)
            // hyper's default cap on header fields (100; 431 beyond) is kept: S3
            // clients send a few dozen, and any other cap makes hyper allocate and
            // fill its parse arrays on the heap for every request (measured with
            // callgrind: +3,000 instructions a request at 256).
            // No hyper timer: its head timer would also count idle time (ours,
            // in `io`, do not), and it allocates and registers a new timer for
            // every request — measured at about a tenth of the server's CPU per
            // small request (bench/compare_builds.py, with and without it).
            .max_buf_size(hard_head.max(MIN_BUF_BYTES));
        Self {
            max_connections,
            io,
            body_timeout: Duration::from_secs(limits.body_timeout_secs),
            max_header_bytes: limits.max_header_bytes,
            http,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, within `limits`.
///
/// At shutdown it stops accepting, lets every connection finish its request and
/// close (idle ones close at once), and returns when all are closed or after
/// [`SHUTDOWN_GRACE`], closing the stragglers.
pub async fn run(
    listener: TcpListener,
    app: axum::Router,
    limits: &LimitsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_connections = connection_cap(limits.max_connections, raise_fd_limit());
    let settings = Arc::new(Settings::new(limits, max_connections));
    let app = TowerToHyperService::new(app);
    let registry = Arc::new(Registry::default());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                admit(stream, peer, &registry, &settings, &app);
            }
            // The peer gave up before we accepted: nothing to back off from.
            Err(e) if is_connection_error(&e) => {}
            // Out of descriptors (EMFILE / ENFILE) or worse. Never a reason to stop:
            // free a descriptor if an idle connection can give one up, and pause
            // briefly rather than spin on the error.
            Err(e) => {
                let freed = is_out_of_descriptors(&e) && registry.evict_idlest();
                let pause = if freed { ACCEPT_BACKOFF_MIN } else { backoff };
                if freed {
                    tracing::debug!(error = %e, "accept failed; closed the longest idle connection");
                } else {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed");
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    drop(listener);
    registry.close_all();
    if tokio::time::timeout(SHUTDOWN_GRACE, registry.wait_empty()).await.is_err() {
        tracing::warn!(open = registry.len(), "connections still busy after the shutdown grace period; closing them");
        registry.force_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), registry.wait_empty()).await;
    }
    Ok(())
}

/// Takes a new connection into the table (making room if it is full) or answers
/// it 503.
fn admit(stream: TcpStream, peer: SocketAddr, registry: &Arc<Registry>, settings: &Arc<Settings>, app: &TowerToHyperService<axum::Router>) {
    // Without it, small keep-alive responses stall ~40 ms on delayed ACKs.
    let _ = stream.set_nodelay(true);
    limit_unsent(&stream);
    if registry.len() >= settings.max_connections && !registry.evict_idlest() {
        tracing::debug!(%peer, "connection table full of busy connections; answering 503");
        reject(stream, registry.clone());
        return;
    }
    let entry = registry.insert();
    tokio::spawn(serve_connection(stream, peer, entry, settings.clone(), app.clone()));
}

/// Answers 503 and closes. Politely (write, half-close, read what the client had
/// sent so the close does not reset the answer away) within [`REJECT_BUDGET`];
/// when many are being rejected at once, one non-blocking write and close.
fn reject(stream: TcpStream, registry: Arc<Registry>) {
    if registry.rejecting.fetch_add(1, Ordering::Relaxed) >= MAX_REJECTING {
        registry.rejecting.fetch_sub(1, Ordering::Relaxed);
        let _ = stream.try_write(SERVICE_UNAVAILABLE);
        return;
    }
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = tokio::time::timeout(REJECT_BUDGET, async {
            stream.write_all(SERVICE_UNAVAILABLE).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < 64 * 1024 {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
        registry.rejecting.fetch_sub(1, Ordering::Relaxed);
    });
}

/// How a connection task ended.
enum Ended {
    /// hyper finished (client closed, keep-alive off, or an error).
    Done(hyper::Result<()>),
    /// Asked to close and nothing in flight: dropped, partial head and all.
    Closed,
    /// Forced closed at the end of the shutdown grace.
    Forced,
}

/// Serves one connection until it ends or is asked to close.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    entry: Entry,
    settings: Arc<Settings>,
    app: TowerToHyperService<axum::Router>,
) {
    let state = entry.state().clone();
    let info = ConnectionInfo { peer, tls: false };
    let service = ConnService::new(app, state.clone(), info, settings.max_header_bytes, settings.body_timeout);
    let io = TokioIo::new(TimedIo::new(stream, state.clone(), settings.io));
    let mut conn = std::pin::pin!(settings.http.serve_connection(io, service));
    let mut wake = std::pin::pin!(state.wake.notified());
    let mut closing = false;
    let ended = std::future::poll_fn(|cx| {
        while wake.as_mut().poll(cx).is_ready() {
            wake.set(state.wake.notified());
            if state.is_forced() {
                return std::task::Poll::Ready(Ended::Forced);
            }
            if !closing {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
        if let std::task::Poll::Ready(r) = conn.as_mut().poll(cx) {
            return std::task::Poll::Ready(Ended::Done(r));
        }
        if closing && state.is_quiescent() {
            return std::task::Poll::Ready(Ended::Closed);
        }
        std::task::Poll::Pending
    })
    .await;
    match ended {
        Ended::Done(Ok(())) => {}
        Ended::Done(Err(e)) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
        Ended::Closed => tracing::debug!(%peer, "connection closed (evicted or shutting down)"),
        Ended::Forced => tracing::debug!(%peer, "connection forced closed at shutdown"),
    }
    drop(entry);
}

/// Caps the unsent bytes the kernel queues for the connection, so that the
/// socket turns writable whenever the client takes [`NOTSENT_LOWAT`]` / 2` bytes
/// (the send timeout measures progress, see [`io`]); also bounds the kernel memory
/// a stalled reader pins. In-flight data (the congestion window) is not limited.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn limit_unsent(stream: &TcpStream) {
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(NOTSENT_LOWAT) {
        tracing::debug!(error = %e, "cannot set TCP_NOTSENT_LOWAT");
    }
}

/// Elsewhere the kernel's default wake-up rule applies: a reader slower than a
/// third of the send buffer per send timeout counts as stalled.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn limit_unsent(_: &TcpStream) {}

/// Accept errors that concern only the connection being accepted.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset)
}

#[cfg(unix)]
fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    e.raw_os_error().is_some_and(|code| code == Errno::MFILE.raw_os_error() || code == Errno::NFILE.raw_os_error())
}

#[cfg(not(unix))]
fn is_out_of_descriptors(_: &std::io::Error) -> bool {
    false
}

/// The connection cap in force: `max_connections`, lowered so that
/// [`FDS_PER_CONNECTION`] descriptors per connection plus [`FD_RESERVE`] fit under
/// the open-file limit (with a warning), so that the cap (where idle connections
/// make room and the rest get a clean 503) is reached before EMFILE (where object
/// files fail to open and the kernel's backlog fills).
fn connection_cap(max_connections: usize, fd_limit: Option<u64>) -> usize {
    let max_connections = max_connections.max(1);
    let Some(fd_limit) = fd_limit else {
        return max_connections;
    };
    let fits = fd_limit.saturating_sub(FD_RESERVE) / FDS_PER_CONNECTION;
    if max_connections as u64 <= fits {
        return max_connections;
    }
    let cap = usize::try_from(fits).unwrap_or(usize::MAX).clamp(1, max_connections);
    tracing::warn!(
        max_connections,
        open_file_limit = fd_limit,
        using = cap,
        "limits.max_connections × {FDS_PER_CONNECTION} descriptors plus {FD_RESERVE} spare exceeds the open-file limit; \
         using a lower cap (raise `ulimit -n` to allow more)"
    );
    cap
}

/// Raises the soft open-file limit to the hard one (once per process) and
/// returns the limit in force (`None`: unlimited or unknown).
#[cfg(unix)]
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    static RAISE: std::sync::Once = std::sync::Once::new();
    RAISE.call_once(|| {
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            // Fails where the hard limit is "unlimited" but the kernel is not
            // (macOS); the current limit then stands.
            let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::debug!(error = %e, "cannot raise the open-file limit");
            }
        }
    });
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}
