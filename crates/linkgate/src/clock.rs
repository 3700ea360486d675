//! Time, injected: every decision about expiry, skew or age asks a [`Clock`].
//!
//! Production uses [`SystemClock`]; tests use [`ManualClock`] and move time forward
//! instead of sleeping, so "expired", "not yet valid" and "banned for 15 minutes"
//! are tested in microseconds and never flake.

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

/// A clock that only moves when told to: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        Self { now_ms: AtomicI64::new(now_ms) }
    }

    /// A clock stopped at the system's current time.
    pub fn starting_now() -> Self {
        Self::at(SystemClock.now_ms())
    }

    /// Moves time forward (or back, with a negative amount) by `ms`.
    pub fn advance_ms(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves time forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.advance_ms(secs.saturating_mul(1000));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
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
    fn manual_time_moves_only_when_told() {
        let c = ManualClock::at(1_700_000_000_500);
        assert_eq!(c.now_ms(), 1_700_000_000_500);
        assert_eq!(c.now().unix(), 1_700_000_000);
        c.advance_secs(90);
        assert_eq!(c.now_ms(), 1_700_000_090_500);
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
        let a = AdjustableClock::new();
        a.advance_secs(3600);
        assert!(a.now_ms() - SystemClock.now_ms() >= 3_599_000);
    }
}
