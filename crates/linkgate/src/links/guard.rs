//! What stands between a flood or a guesser and a link: a per-address rate limit
//! on redemptions, and a brute-force ban on wrong passwords.
//!
//! Both live in this process's memory. They slow an attacker down; they are not
//! what makes a link safe (a 256-bit token is), so losing their counts on a restart
//! costs nothing that matters. On several nodes each node counts for itself.
//!
//! Addresses are counted per IPv4 address and per IPv6 /64, because one IPv6 client
//! usually holds a whole /64 and could otherwise rotate through it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::SharedClock;

/// Most (link, address) pairs whose wrong passwords are remembered; beyond it,
/// stale entries are dropped first, then the oldest.
const MAX_STRIKE_ENTRIES: usize = 100_000;

/// The key a client is counted under: its IPv4 address, or its IPv6 /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Wrong passwords sent by one client to one link.
#[derive(Clone, Copy, Debug)]
struct Strikes {
    /// Wrong passwords in the current window.
    count: u32,
    /// When the window began (the first wrong password in it), ms.
    since_ms: i64,
    /// While set and ahead, every attempt is refused unseen.
    banned_until_ms: Option<i64>,
}

/// The brute-force ban: after `attempts` wrong passwords from one client to one
/// link within `window`, that client is refused (429) by that link for `window`,
/// without its password being checked (which also spares the CPU an argon2 run).
#[derive(Debug)]
pub struct PasswordGuard {
    attempts: u32,
    window_ms: i64,
    strikes: Mutex<HashMap<(String, IpAddr), Strikes>>,
}

impl PasswordGuard {
    /// A guard allowing `attempts` wrong passwords per `window_secs`.
    pub fn new(attempts: u32, window_secs: u64) -> Self {
        Self { attempts: attempts.max(1), window_ms: (window_secs.max(1) as i64).saturating_mul(1000), strikes: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, IpAddr), Strikes>> {
        self.strikes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(seconds until the ban ends)` while `ip` is banned from `link_id`.
    pub fn banned(&self, link_id: &str, ip: IpAddr, now_ms: i64) -> Option<u64> {
        let map = self.lock();
        let until = map.get(&(link_id.to_owned(), client_key(ip)))?.banned_until_ms?;
        (now_ms < until).then(|| ((until - now_ms + 999) / 1000) as u64)
    }

    /// Records a wrong password; returns how many remain before the ban (0: banned
    /// now).
    pub fn failed(&self, link_id: &str, ip: IpAddr, now_ms: i64) -> u32 {
        let mut map = self.lock();
        if map.len() >= MAX_STRIKE_ENTRIES {
            self.evict(&mut map, now_ms);
        }
        let entry =
            map.entry((link_id.to_owned(), client_key(ip))).or_insert(Strikes { count: 0, since_ms: now_ms, banned_until_ms: None });
        // A new window starts when the ban is over, or (no ban) when the old window
        // has passed; a late wrong guess never lifts a running ban.
        let fresh = match entry.banned_until_ms {
            Some(until) => now_ms >= until,
            None => now_ms - entry.since_ms >= self.window_ms,
        };
        if fresh {
            *entry = Strikes { count: 0, since_ms: now_ms, banned_until_ms: None };
        }
        entry.count += 1;
        if entry.count >= self.attempts {
            entry.banned_until_ms = Some(now_ms + self.window_ms);
        }
        self.attempts.saturating_sub(entry.count)
    }

    /// A right password clears the client's strikes on that link.
    pub fn succeeded(&self, link_id: &str, ip: IpAddr) {
        self.lock().remove(&(link_id.to_owned(), client_key(ip)));
    }

    /// Forgets strikes whose window and ban are over.
    pub fn purge(&self, now_ms: i64) {
        let mut map = self.lock();
        self.retain_live(&mut map, now_ms);
    }

    fn retain_live(&self, map: &mut HashMap<(String, IpAddr), Strikes>, now_ms: i64) {
        map.retain(|_, s| s.banned_until_ms.map_or(now_ms - s.since_ms < self.window_ms, |until| now_ms < until));
    }

    /// Makes room down to half the cap (so the next eviction is far off): stale
    /// entries first, then the oldest entries that are not running a ban, and
    /// running bans only if nothing else is left.
    fn evict(&self, map: &mut HashMap<(String, IpAddr), Strikes>, now_ms: i64) {
        self.retain_live(map, now_ms);
        let target = MAX_STRIKE_ENTRIES / 2;
        if map.len() <= target {
            return;
        }
        let mut order: Vec<(bool, i64, (String, IpAddr))> =
            map.iter().map(|(k, s)| (s.banned_until_ms.is_some_and(|until| now_ms < until), s.since_ms, k.clone())).collect();
        // Not banned before banned, oldest first: the front goes.
        order.sort_unstable_by_key(|(banned, since, _)| (*banned, *since));
        let excess = map.len() - target;
        for (_, _, key) in order.into_iter().take(excess) {
            map.remove(&key);
        }
    }

    /// How many (link, client) pairs are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// linkgate's [`Clock`](crate::clock::Clock) as `governor` reads time:
/// nanoseconds since the Unix epoch, at the clock's millisecond resolution, that
/// never go back (if the wall clock is stepped back, this one holds still until it
/// catches up, so no client is charged for time that did not pass).
#[derive(Clone, Debug)]
pub struct RateClock {
    clock: SharedClock,
    latest_ms: Arc<AtomicI64>,
}

impl RateClock {
    /// Reads `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, latest_ms: Arc::new(AtomicI64::new(0)) }
    }
}

impl governor::clock::Clock for RateClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let read = self.clock.now_ms().max(0);
        // Written at most once a millisecond: checks on many cores share the line.
        let latest = self.latest_ms.load(Ordering::Relaxed);
        let ms = if read > latest { self.latest_ms.fetch_max(read, Ordering::Relaxed).max(read) } else { latest };
        Nanos::new(u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000))
    }
}

type KeyedLimiter = RateLimiter<IpAddr, DashMapStateStore<IpAddr>, RateClock, NoOpMiddleware<Nanos>>;

/// The per-address limit on link redemptions (`limits.link_requests_per_second`
/// and `limits.link_burst`), a GCRA from `governor` timed by linkgate's clock.
/// Checked before the link is looked up, so a flood costs neither a store read nor
/// an audit row.
#[derive(Debug)]
pub struct RateGuard {
    limiter: Option<KeyedLimiter>,
}

impl RateGuard {
    /// `per_second` redemptions per client on average, `burst` at once, timed by
    /// `clock`; 0 turns the limit off.
    pub fn new(per_second: u32, burst: u32, clock: SharedClock) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate).max(rate);
            RateLimiter::dashmap_with_clock(Quota::per_second(rate).allow_burst(burst), RateClock::new(clock))
        });
        Self { limiter }
    }

    /// `Err(retry_after)` when `ip` is over its rate.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&client_key(ip)).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Forgets clients whose rate has fully recovered, so the table does not grow
    /// with every address ever seen.
    pub fn purge(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Everything redemption needs to hold back abuse, built from `[limits]`.
#[derive(Debug)]
pub struct LinkGuards {
    /// Redemptions per client address.
    pub rate: RateGuard,
    /// Wrong passwords per (link, client address); shared with the blocking
    /// threads that check passwords.
    pub passwords: Arc<PasswordGuard>,
    /// Argon2 checks running at once (one per core): a burst of password
    /// attempts queues here instead of starving everything else of CPU.
    pub hashing: Arc<tokio::sync::Semaphore>,
}

impl LinkGuards {
    /// The guards `limits` asks for, timed by `clock`.
    pub fn new(limits: &crate::config::LimitsConfig, clock: SharedClock) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            rate: RateGuard::new(limits.link_requests_per_second, limits.link_burst, clock),
            passwords: Arc::new(PasswordGuard::new(limits.password_attempts, limits.password_ban_secs)),
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }

    /// Forgets what no longer matters (recovered rates, finished bans).
    pub fn purge(&self, now_ms: i64) {
        self.rate.purge();
        self.passwords.purge(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_v4_as_v4() {
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:ffff::1")), client_key(ip("2001:db8:1:2::9")));
        assert_ne!(client_key(ip("2001:db8:1:3::1")), client_key(ip("2001:db8:1:2::1")));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn ban_after_attempts_for_the_window_per_link_and_client() {
        let g = PasswordGuard::new(3, 60);
        let a = ip("192.0.2.1");
        assert_eq!(g.banned("l1", a, 0), None);
        assert_eq!(g.failed("l1", a, 0), 2);
        assert_eq!(g.failed("l1", a, 1_000), 1);
        assert_eq!(g.banned("l1", a, 1_000), None, "two strikes are not a ban");
        assert_eq!(g.failed("l1", a, 2_000), 0);
        assert_eq!(g.banned("l1", a, 2_000), Some(60), "banned for the window from the last strike");
        assert_eq!(g.banned("l1", a, 61_500), Some(1));
        assert_eq!(g.banned("l1", a, 62_000), None, "the ban ends");
        // Other links and other clients are untouched.
        assert_eq!(g.banned("l2", a, 2_000), None);
        assert_eq!(g.banned("l1", ip("192.0.2.2"), 2_000), None);
        // After the ban, counting starts again.
        assert_eq!(g.failed("l1", a, 62_000), 2);
    }

    #[test]
    fn strikes_expire_with_the_window_and_success_clears_them() {
        let g = PasswordGuard::new(2, 10);
        let a = ip("2001:db8::1");
        assert_eq!(g.failed("l", a, 0), 1);
        assert_eq!(g.failed("l", a, 10_000), 1, "a strike outside the window starts a new one");
        g.succeeded("l", ip("2001:db8:0:1::1"));
        assert_eq!(g.failed("l", ip("2001:db8::2"), 10_001), 0, "another /64's success changes nothing; the same /64 is one client");
        assert!(g.banned("l", a, 10_002).is_some());
        g.succeeded("l", a);
        assert_eq!(g.banned("l", a, 10_002), None);
        assert!(g.is_empty());
    }

    #[test]
    fn purge_drops_only_what_is_over() {
        let g = PasswordGuard::new(1, 10);
        g.failed("banned", ip("192.0.2.1"), 0);
        g.failed("also-banned", ip("192.0.2.1"), 0);
        let g2 = PasswordGuard::new(5, 10);
        g2.failed("recent", ip("192.0.2.1"), 5_000);
        g2.failed("old", ip("192.0.2.1"), 0);
        g2.purge(12_000);
        assert_eq!(g2.len(), 1, "the strike from 0 ms is past its 10 s window");
        g.purge(9_999);
        assert_eq!(g.len(), 2, "bans still running are kept");
        g.purge(10_000);
        assert!(g.is_empty());
    }

    #[test]
    fn eviction_keeps_the_table_bounded() {
        let g = PasswordGuard::new(5, 3600);
        for i in 0..MAX_STRIKE_ENTRIES as i64 + 10 {
            g.failed(&format!("l{i}"), ip("192.0.2.1"), i);
        }
        assert!(g.len() <= MAX_STRIKE_ENTRIES / 2 + 10, "{}", g.len());
        let newest = format!("l{}", MAX_STRIKE_ENTRIES + 9);
        assert_eq!(g.failed(&newest, ip("192.0.2.1"), MAX_STRIKE_ENTRIES as i64 + 10), 3, "the newest entries survive");
    }

    #[test]
    fn eviction_keeps_running_bans() {
        let g_many = PasswordGuard::new(5, 3600);
        for i in 0..MAX_STRIKE_ENTRIES as i64 {
            g_many.failed(&format!("l{i}"), ip("192.0.2.1"), i);
        }
        // One ban among the oldest entries of a full table survives the eviction.
        let mut map = g_many.lock();
        map.insert(("banned-early".into(), ip("192.0.2.9")), Strikes { count: 5, since_ms: -1, banned_until_ms: Some(1 << 40) });
        drop(map);
        g_many.failed("newcomer", ip("192.0.2.1"), MAX_STRIKE_ENTRIES as i64);
        assert!(g_many.banned("banned-early", ip("192.0.2.9"), MAX_STRIKE_ENTRIES as i64).is_some());
        assert!(g_many.len() <= MAX_STRIKE_ENTRIES / 2 + 1, "{}", g_many.len());
    }

    #[test]
    fn a_late_wrong_guess_never_lifts_a_running_ban() {
        let g = PasswordGuard::new(2, 10);
        let a = ip("192.0.2.1");
        g.failed("l", a, 0);
        g.failed("l", a, 9_000);
        assert_eq!(g.banned("l", a, 9_000), Some(10), "banned until 19 s");
        // 10 s after the window began, but inside the ban: an in-flight guess landing
        // now keeps the ban (and restarts it), it does not open a new window.
        g.failed("l", a, 12_000);
        assert_eq!(g.banned("l", a, 19_000), Some(3));
        assert_eq!(g.banned("l", a, 22_000), None);
    }

    #[test]
    fn rate_guard_allows_the_burst_then_refuses_with_a_wait() {
        let clock = Arc::new(crate::clock::ManualClock::at(1_700_000_000_000));
        let r = RateGuard::new(1, 3, clock.clone());
        let a = ip("198.51.100.1");
        for _ in 0..3 {
            assert_eq!(r.check(a), Ok(()));
        }
        assert_eq!(r.check(a), Err(Duration::from_secs(1)), "the clock stands still: a whole second to wait");
        assert_eq!(r.check(ip("198.51.100.2")), Ok(()), "other clients have their own budget");
        clock.advance_ms(400);
        assert_eq!(r.check(a), Err(Duration::from_millis(600)));
        clock.advance_ms(600);
        assert_eq!(r.check(a), Ok(()), "one refilled after a second of the clock's time");
        assert_eq!(r.check(a), Err(Duration::from_secs(1)));
        clock.advance_ms(3_000);
        for _ in 0..3 {
            assert_eq!(r.check(a), Ok(()), "the burst refills, no further");
        }
        assert!(r.check(a).is_err());
        let off = RateGuard::new(0, 0, clock);
        for _ in 0..1000 {
            assert_eq!(off.check(a), Ok(()));
        }
        r.purge();
    }

    #[test]
    fn the_rate_clock_never_goes_back() {
        let clock = Arc::new(crate::clock::ManualClock::at(5_000));
        let rc = RateClock::new(clock.clone());
        assert_eq!(governor::clock::Clock::now(&rc), Nanos::new(5_000_000_000));
        clock.advance_ms(-2_000);
        assert_eq!(governor::clock::Clock::now(&rc), Nanos::new(5_000_000_000), "a clock stepped back holds still");
        clock.advance_ms(2_500);
        assert_eq!(governor::clock::Clock::now(&rc), Nanos::new(5_500_000_000));
        // A limiter over a clock stepped back charges nobody for the step.
        let r = RateGuard::new(1, 1, clock.clone());
        assert_eq!(r.check(ip("192.0.2.1")), Ok(()));
        clock.advance_ms(-3_600_000);
        assert_eq!(r.check(ip("192.0.2.1")), Err(Duration::from_secs(1)));
        clock.advance_ms(3_600_000);
        clock.advance_ms(1_000);
        assert_eq!(r.check(ip("192.0.2.1")), Ok(()));
    }
}
