//! Time, injected: every decision about expiry, skew or age asks a [`Clock`].
//!
//! Production uses [`SystemClock`]; tests use [`AdjustableClock`] and move time
//! forward instead of sleeping, so "expired", "not yet valid" and "banned for 15
//! minutes" are tested in microseconds and never flake.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sigv4::AmzDate;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// The current time as SigV4 dates it (whole seconds).
    fn now(&self) -> AmzDate {
        AmzDate::from_unix(self.now_ms().div_euclid(1000))
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to (unit tests of time-based rules).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        Self(AtomicI64::new(now_ms))
    }

    /// Moves time by `ms` (back, if negative).
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The system clock moved forward by an offset that tests can grow: time passes
/// normally (signatures made with the real clock stay valid), and a test that must
/// let an hour pass moves the offset instead of sleeping.
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset_ms: AtomicI64,
}

impl AdjustableClock {
    /// A clock that reads the system time until it is moved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `ms`.
    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves time forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.advance_ms(secs.saturating_mul(1000));
    }
}

impl Clock for AdjustableClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms().saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustable_time_moves_when_told() {
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
        assert_eq!(SystemClock.now().unix(), SystemClock.now_ms() / 1000);
        let a = AdjustableClock::new();
        a.advance_secs(3600);
        assert!(a.now_ms() - SystemClock.now_ms() >= 3_599_000);
    }
}
