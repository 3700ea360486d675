//! The table of open connections and the per-connection state the timers read.
//!
//! Each connection's [`ConnState`] is shared by three parties that all run in the
//! connection's task (the timed I/O wrapper, the service that sees requests start,
//! the response body that sees them end) and read by the accept loop, which needs
//! to know which connection has been idle longest when the table is full. Plain
//! atomics are enough: the accept loop only reads them to pick a victim, and a
//! slightly stale value picks a slightly different victim, nothing worse.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Milliseconds since the first call: a compact, monotonic timestamp that fits in
/// an atomic.
pub(super) fn now_ms() -> u64 {
    base().elapsed().as_millis() as u64
}

/// The [`Instant`] of a [`now_ms`] timestamp.
pub(super) fn instant_at(ms: u64) -> Instant {
    base() + Duration::from_millis(ms)
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Which read timer is running, for the error a timed-out read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadPhase {
    /// No request in flight and no byte of the next head yet.
    Idle,
    /// Part of a request head has arrived; the rest is due.
    Head,
}

/// What one connection is doing, as far as the limits care.
#[derive(Debug)]
pub(super) struct ConnState {
    /// Requests handed to the application whose response is not yet written out.
    in_flight: AtomicU32,
    /// When the first byte of the current request head arrived, `now_ms() + 1`;
    /// 0 while no head has begun.
    head_started: AtomicU64,
    /// Last time the connection did something (opened, finished a request, wrote
    /// response bytes), `now_ms()`. Idle time counts from here.
    last_active: AtomicU64,
    /// The last write found the socket full: response bytes are still queued in
    /// hyper, so the connection is not idle even with no request in flight.
    write_blocked: AtomicBool,
    /// Asked to close (eviction or shutdown); never chosen as a victim twice.
    closing: AtomicBool,
    /// Asked to close at once, in-flight requests or not (end of the shutdown grace).
    forced: AtomicBool,
    /// Wakes the connection task to act on `closing` / `forced`.
    pub(super) wake: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            in_flight: AtomicU32::new(0),
            head_started: AtomicU64::new(0),
            last_active: AtomicU64::new(now_ms()),
            write_blocked: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            forced: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// hyper parsed a head and handed the request over: the head timer stops and
    /// no read timer runs until the response is out.
    pub(super) fn request_started(&self) {
        self.head_started.store(0, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// The response has been handed to the socket (or abandoned): idle from now.
    pub(super) fn request_finished(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Bytes arrived. Between requests, the first of them starts the head timer.
    pub(super) fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_started.load(Ordering::Relaxed) == 0 {
            self.head_started.store(now_ms() + 1, Ordering::Relaxed);
        }
    }

    /// The client accepted response bytes.
    pub(super) fn bytes_written(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
        self.write_blocked.store(false, Ordering::Relaxed);
    }

    /// The socket would not take more response bytes.
    pub(super) fn write_would_block(&self) {
        self.write_blocked.store(true, Ordering::Relaxed);
    }

    /// No request in flight and nothing left to send: closing now loses nothing
    /// but a partly received head.
    pub(super) fn is_quiescent(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && !self.write_blocked.load(Ordering::Relaxed)
    }

    /// The read deadline (`now_ms` scale) and which timer it is; `None` while a
    /// request is in flight. Reads hyper makes then are either the body (timed by
    /// the body wrapper, and only while a handler reads it) or its probe for EOF,
    /// which must not cut off a client quietly waiting for a slow response.
    pub(super) fn read_deadline(&self, idle: Duration, header: Duration) -> Option<(u64, ReadPhase)> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Relaxed) {
            0 => Some((self.last_active.load(Ordering::Relaxed) + idle.as_millis() as u64, ReadPhase::Idle)),
            started => Some((started - 1 + header.as_millis() as u64, ReadPhase::Head)),
        }
    }

    /// Whether the connection must close at once.
    pub(super) fn is_forced(&self) -> bool {
        self.forced.load(Ordering::Relaxed)
    }

    fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn force_close(&self) {
        self.forced.store(true, Ordering::Relaxed);
        self.closing.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub(super) struct Registry {
    conns: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    /// Signalled when the last connection leaves.
    emptied: Notify,
    /// Connections being answered 503 right now (they hold a descriptor too).
    pub(super) rejecting: AtomicUsize,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open, closing ones included (they still hold a descriptor).
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Registers a new connection; it leaves the table when the entry drops.
    pub(super) fn insert(self: &Arc<Self>) -> Entry {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        self.lock().insert(id, state.clone());
        Entry { registry: self.clone(), id, state }
    }

    /// Asks the connection idle longest (no request in flight, nothing left to
    /// send, not already closing) to close; false if there is none.
    pub(super) fn evict_idlest(&self) -> bool {
        let conns = self.lock();
        let victim = conns
            .values()
            .filter(|c| !c.closing.load(Ordering::Relaxed) && c.is_quiescent())
            .min_by_key(|c| c.last_active.load(Ordering::Relaxed));
        match victim {
            Some(c) => {
                c.close();
                true
            }
            None => false,
        }
    }

    /// Asks every connection to finish its request and close.
    pub(super) fn close_all(&self) {
        self.lock().values().for_each(|c| c.close());
    }

    /// Closes every connection now.
    pub(super) fn force_all(&self) {
        self.lock().values().for_each(|c| c.force_close());
    }

    /// Resolves when no connection is left.
    pub(super) async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            let mut emptied = std::pin::pin!(emptied);
            emptied.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

/// A connection's place in the [`Registry`]; dropping it (however the connection
/// task ends) removes the connection.
#[derive(Debug)]
pub(super) struct Entry {
    registry: Arc<Registry>,
    id: u64,
    state: Arc<ConnState>,
}

impl Entry {
    /// The connection's state.
    pub(super) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut conns = self.registry.lock();
        conns.remove(&self.id);
        if conns.is_empty() {
            self.registry.emptied.notify_waiters();
        }
    }
}
