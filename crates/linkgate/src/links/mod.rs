//! Broker links (`/l/{token}`): the pure decisions, kept apart from HTTP and storage
//! so they can be tested exhaustively.
//!
//! Redemption is judged in two steps: [`judge`] rules on everything knowable from
//! the record (state, client address) before a use is taken, then the store's atomic
//! `LinkStore::consume` (the link port) takes one, and [`denial_for`] turns a
//! refusal there (a race lost to another request) into the same answers.

pub mod guard;
pub mod model;
pub mod password;

use std::net::IpAddr;

use self::model::{Consume, LinkRecord};
use crate::auth::policy::Cidr;
use crate::auth::secrets;

/// A new link id: `lnk_` + 24 lower-case hex. Public and not secret (the admin API
/// names links by it), random so ids reveal nothing about how many links exist.
pub fn new_link_id() -> String {
    format!("lnk_{}", crate::ids::random_hex(12))
}

/// A new link token (256 bits from the OS CSPRNG, base64url) and its hash. Only the
/// hash is stored; the token is shown once to the creator and lives in the URL.
pub fn new_token() -> (String, String) {
    let token = secrets::random_token(32);
    let hash = secrets::token_hash(&token);
    (token, hash)
}

/// Where a link stands at an instant, as the admin API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Usable.
    Active,
    /// `not_before` is still ahead.
    NotYetValid,
    /// `expires_at` has passed.
    Expired,
    /// Every use has been taken.
    Exhausted,
    /// Revoked.
    Revoked,
}

impl LinkState {
    /// The API's name for the state: `active`, `not-yet-valid`, `expired`, `exhausted` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::NotYetValid => "not-yet-valid",
            LinkState::Expired => "expired",
            LinkState::Exhausted => "exhausted",
            LinkState::Revoked => "revoked",
        }
    }
}

/// The state of `link` at `now_ms`. Final states win over passing ones, in the order
/// revoked, expired, exhausted, not yet valid; so a revoked link always reads as
/// revoked, and a link that can never become usable is not called "not yet valid".
pub fn state(link: &LinkRecord, now_ms: i64) -> LinkState {
    if link.revoked_ms.is_some() {
        LinkState::Revoked
    } else if now_ms >= link.expires_ms {
        LinkState::Expired
    } else if link.max_uses.is_some_and(|max| link.uses >= max) {
        LinkState::Exhausted
    } else if link.not_before_ms.is_some_and(|nb| now_ms < nb) {
        LinkState::NotYetValid
    } else {
        LinkState::Active
    }
}

/// Why a redemption is refused: the HTTP status, a stable machine-readable reason
/// (also the audit `outcome`), and a short sentence for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkDenial {
    /// HTTP status: 404, 410 or 403.
    pub status: u16,
    /// `unknown`, `revoked`, `expired`, `exhausted`, `not-yet-valid` or `ip-not-allowed`.
    pub reason: &'static str,
    /// Readable explanation for the page or plain-text answer.
    pub message: &'static str,
}

const UNKNOWN: LinkDenial = LinkDenial { status: 404, reason: "unknown", message: "This link does not exist." };
const REVOKED: LinkDenial = LinkDenial { status: 410, reason: "revoked", message: "This link has been revoked." };
const EXPIRED: LinkDenial = LinkDenial { status: 410, reason: "expired", message: "This link has expired." };
const EXHAUSTED: LinkDenial = LinkDenial { status: 410, reason: "exhausted", message: "This link has been used up." };
const NOT_YET_VALID: LinkDenial = LinkDenial { status: 403, reason: "not-yet-valid", message: "This link is not valid yet." };
const IP_NOT_ALLOWED: LinkDenial =
    LinkDenial { status: 403, reason: "ip-not-allowed", message: "This link cannot be used from your network address." };

/// Everything that can be judged before consuming a use: the state (410 revoked,
/// expired or exhausted; 403 not yet valid), then `allowed_ips` (403
/// `ip-not-allowed`). An IPv4-mapped IPv6 client counts as IPv4. An entry that
/// does not parse matches nothing: a damaged restriction fails closed.
pub fn judge(link: &LinkRecord, now_ms: i64, client_ip: IpAddr) -> Result<(), LinkDenial> {
    judge_state(link, now_ms)?;
    if link.allowed_ips.is_empty() {
        return Ok(());
    }
    let ip = client_ip.to_canonical();
    if link.allowed_ips.iter().filter_map(|text| Cidr::parse(text)).any(|range| range.contains(ip)) { Ok(()) } else { Err(IP_NOT_ALLOWED) }
}

/// The state part of [`judge`]: 410 revoked, expired or exhausted; 403 not yet
/// valid. Also used to re-judge a link read again just before a use is counted.
pub fn judge_state(link: &LinkRecord, now_ms: i64) -> Result<(), LinkDenial> {
    match state(link, now_ms) {
        LinkState::Active => Ok(()),
        LinkState::Revoked => Err(REVOKED),
        LinkState::Expired => Err(EXPIRED),
        LinkState::Exhausted => Err(EXHAUSTED),
        LinkState::NotYetValid => Err(NOT_YET_VALID),
    }
}

/// The answer for a failed `LinkStore::consume` (the link port): `None` when
/// a use was taken; 410 for used up, revoked or expired; 404 if the link is gone.
pub fn denial_for(c: Consume) -> Option<LinkDenial> {
    match c {
        Consume::Consumed { .. } => None,
        Consume::UsedUp => Some(EXHAUSTED),
        Consume::Revoked => Some(REVOKED),
        Consume::Expired => Some(EXPIRED),
        Consume::Missing => Some(UNKNOWN),
    }
}

/// The instant `secs` seconds after `now_ms`, if that is at most `max_secs` ahead:
/// checked arithmetic, so no value a client sends can wrap around into the past
/// or a short link.
pub fn expiry_after(now_ms: i64, secs: u64, max_secs: u64) -> Result<i64, String> {
    if secs > max_secs {
        return Err(format!("{secs} seconds is longer than a link may live ({max_secs} seconds, links.max_expires_in)."));
    }
    secs.checked_mul(1000)
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(|ms| now_ms.checked_add(ms))
        .ok_or_else(|| format!("{secs} seconds is out of range."))
}

/// Checks `allowed_ips` at link creation (`ADDR/LEN` or a bare address, IPv4 or
/// IPv6), so a typo is refused instead of silently locking everyone out.
pub fn validate_cidrs(cidrs: &[String]) -> Result<(), String> {
    match cidrs.iter().find(|text| Cidr::parse(text).is_none()) {
        Some(bad) => Err(format!("invalid CIDR {bad:?} in allowed_ips: expected an IPv4 or IPv6 address with an optional /prefix-length")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::model::{LinkIssuer, LinkTarget};

    fn link() -> LinkRecord {
        LinkRecord {
            id: new_link_id(),
            token_hash: new_token().1,
            ..LinkRecord::new(LinkIssuer::Root, LinkTarget::Object { bucket: "b".into(), key: "k".into() }, 0, 1_000)
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ids_and_tokens() {
        let id = new_link_id();
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("lnk_"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(id, new_link_id());
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(hash, secrets::token_hash(&token));
        assert_ne!(new_token().0, token);
    }

    #[test]
    fn state_order() {
        let l = link();
        assert_eq!(state(&l, 0), LinkState::Active);
        assert_eq!(state(&l, 999), LinkState::Active);
        assert_eq!(state(&l, 1_000), LinkState::Expired, "expiry is exclusive");

        let nb = LinkRecord { not_before_ms: Some(500), ..link() };
        assert_eq!(state(&nb, 499), LinkState::NotYetValid);
        assert_eq!(state(&nb, 500), LinkState::Active);

        let used = LinkRecord { max_uses: Some(2), uses: 2, ..nb.clone() };
        assert_eq!(state(&used, 10), LinkState::Exhausted, "exhausted beats not-yet-valid");
        assert_eq!(state(&LinkRecord { uses: 1, ..used.clone() }, 600), LinkState::Active);
        assert_eq!(state(&LinkRecord { max_uses: Some(0), uses: 0, ..link() }, 1), LinkState::Exhausted);
        assert_eq!(state(&used, 1_000), LinkState::Expired, "expired beats exhausted");

        let revoked = LinkRecord { revoked_ms: Some(1), ..used };
        assert_eq!(state(&revoked, 10), LinkState::Revoked);
        assert_eq!(state(&revoked, 5_000), LinkState::Revoked, "revoked beats expired");

        let names: Vec<_> = [LinkState::Active, LinkState::NotYetValid, LinkState::Expired, LinkState::Exhausted, LinkState::Revoked]
            .into_iter()
            .map(LinkState::as_str)
            .collect();
        assert_eq!(names, ["active", "not-yet-valid", "expired", "exhausted", "revoked"]);
    }

    #[test]
    fn judge_state_then_ip() {
        let any = ip("203.0.113.9");
        assert_eq!(judge(&link(), 0, any), Ok(()));
        let status = |l: &LinkRecord, now, from| judge(l, now, from).err().map(|d| (d.status, d.reason));
        assert_eq!(status(&link(), 1_000, any), Some((410, "expired")));
        assert_eq!(status(&LinkRecord { revoked_ms: Some(0), ..link() }, 0, any), Some((410, "revoked")));
        assert_eq!(status(&LinkRecord { max_uses: Some(1), uses: 1, ..link() }, 0, any), Some((410, "exhausted")));
        assert_eq!(status(&LinkRecord { not_before_ms: Some(10), ..link() }, 0, any), Some((403, "not-yet-valid")));

        let restricted = LinkRecord { allowed_ips: vec!["192.0.2.0/24".into(), "2001:db8::/32".into(), "198.51.100.7".into()], ..link() };
        assert_eq!(judge(&restricted, 0, ip("192.0.2.200")), Ok(()));
        assert_eq!(judge(&restricted, 0, ip("198.51.100.7")), Ok(()));
        assert_eq!(judge(&restricted, 0, ip("2001:db8:1::5")), Ok(()));
        assert_eq!(judge(&restricted, 0, ip("::ffff:192.0.2.1")), Ok(()), "IPv4-mapped IPv6 counts as IPv4");
        assert_eq!(status(&restricted, 0, ip("198.51.100.8")), Some((403, "ip-not-allowed")));
        assert_eq!(status(&restricted, 0, ip("2001:db9::1")), Some((403, "ip-not-allowed")));
        assert_eq!(status(&restricted, 0, ip("::ffff:10.0.0.1")), Some((403, "ip-not-allowed")));
        // State is judged first: a wrong address on an expired link reads as expired.
        assert_eq!(status(&restricted, 1_000, ip("10.0.0.1")), Some((410, "expired")));
        // A damaged entry matches nothing.
        let damaged = LinkRecord { allowed_ips: vec!["not-a-cidr".into()], ..link() };
        assert_eq!(status(&damaged, 0, any), Some((403, "ip-not-allowed")));
        let everyone = LinkRecord { allowed_ips: vec!["0.0.0.0/0".into(), "::/0".into()], ..link() };
        assert_eq!(judge(&everyone, 0, ip("2001:db8::1")), Ok(()));
        assert_eq!(judge(&everyone, 0, any), Ok(()));
    }

    #[test]
    fn denials_for_consume_outcomes() {
        assert_eq!(denial_for(Consume::Consumed { uses: 1, audit: model::AuditId(1) }), None);
        let d = |c| denial_for(c).map(|d| (d.status, d.reason));
        assert_eq!(d(Consume::UsedUp), Some((410, "exhausted")));
        assert_eq!(d(Consume::Revoked), Some((410, "revoked")));
        assert_eq!(d(Consume::Expired), Some((410, "expired")));
        assert_eq!(d(Consume::Missing), Some((404, "unknown")));
        assert_eq!(denial_for(Consume::Expired).map(|d| d.message), Some("This link has expired."));
    }

    #[test]
    fn expiry_arithmetic_is_checked() {
        assert_eq!(expiry_after(1_000, 60, 3_600), Ok(61_000));
        assert!(expiry_after(1_000, 3_601, 3_600).is_err());
        assert!(expiry_after(1_000, u64::MAX, u64::MAX).is_err());
        assert!(expiry_after(1_000, 2_305_843_009_213_697_552, u64::MAX).is_err());
        assert!(expiry_after(i64::MAX - 10, 1, u64::MAX).is_err());
    }

    #[test]
    fn cidr_validation_names_the_bad_entry() {
        let ok: Vec<String> = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::1", "::ffff:192.0.2.0/120"].map(String::from).to_vec();
        assert_eq!(validate_cidrs(&ok), Ok(()));
        assert_eq!(validate_cidrs(&[]), Ok(()));
        for bad in ["10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "", "10.0.0.0/+8", "example.com", "10.0.0.0/", "1.2.3.4/08"] {
            let err = validate_cidrs(&["10.0.0.0/8".to_owned(), bad.to_owned()]).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
