//! What a broker link is: its record, target, issuer, method and delivery, and the
//! audit rows its redemptions leave. Plain data shared by the link service and the
//! link store port.

use std::fmt;
use std::str::FromStr;

/// Who created a link: recorded so links can be listed and revoked per issuer
/// (e.g. when a user leaves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkIssuer {
    /// The root credentials.
    Root,
    /// A user, by name (long-term key or `GetSessionToken` session).
    User(String),
    /// A role, by name (an `AssumeRole` session).
    Role(String),
}

impl LinkIssuer {
    /// The stored and filterable form: `root`, `user:NAME` or `role:NAME`.
    pub fn as_str(&self) -> String {
        match self {
            LinkIssuer::Root => "root".to_owned(),
            LinkIssuer::User(name) => format!("user:{name}"),
            LinkIssuer::Role(name) => format!("role:{name}"),
        }
    }

    /// Reads the [`LinkIssuer::as_str`] form back; `None` for anything else
    /// (including an empty name), so a corrupt row or a bad filter is noticed.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "root" {
            return Some(LinkIssuer::Root);
        }
        match text.split_once(':') {
            Some(("user", name)) if !name.is_empty() => Some(LinkIssuer::User(name.to_owned())),
            Some(("role", name)) if !name.is_empty() => Some(LinkIssuer::Role(name.to_owned())),
            _ => None,
        }
    }
}

impl fmt::Display for LinkIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl FromStr for LinkIssuer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        LinkIssuer::parse(text).ok_or_else(|| format!("invalid issuer {text:?}: expected root, user:NAME or role:NAME"))
    }
}

/// What a link opens: an object, or a path on a configured upstream API (producers
/// name an upstream; they never give linkgate an arbitrary host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// An object in a bucket.
    Object {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// A request forwarded to a named `[[upstreams]]` entry, signed at that moment.
    Upstream {
        /// The upstream's configured name.
        name: String,
        /// Path (and query) appended to its base URL.
        path: String,
    },
}

/// The HTTP method a link answers. Object links are `GET` (download; `HEAD` peeks)
/// or `PUT` (upload); upstream links forward the one method they name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkMethod {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl LinkMethod {
    /// Every method an upstream link may name.
    pub const ALL: [LinkMethod; 6] =
        [LinkMethod::Get, LinkMethod::Head, LinkMethod::Post, LinkMethod::Put, LinkMethod::Patch, LinkMethod::Delete];

    /// The method's name, upper case.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkMethod::Get => "GET",
            LinkMethod::Head => "HEAD",
            LinkMethod::Post => "POST",
            LinkMethod::Put => "PUT",
            LinkMethod::Patch => "PATCH",
            LinkMethod::Delete => "DELETE",
        }
    }

    /// Parses a method name, any case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for LinkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a download link hands over the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// linkgate sends the bytes itself: truly one-time.
    Stream,
    /// 302 to a freshly minted presigned URL living `links.redirect_ttl`.
    Redirect,
}

impl Delivery {
    /// `stream` or `redirect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Stream => "stream",
            Delivery::Redirect => "redirect",
        }
    }

    /// Parses `stream` or `redirect`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stream" => Some(Delivery::Stream),
            "redirect" => Some(Delivery::Redirect),
            _ => None,
        }
    }
}

/// A broker link as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    /// `lnk_` + 24 hex: the public, non-secret handle used by the admin API.
    pub id: String,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub token_hash: String,
    /// Who created it.
    pub issuer: LinkIssuer,
    /// What it opens.
    pub target: LinkTarget,
    /// The method it answers.
    pub method: LinkMethod,
    /// How a download is delivered.
    pub delivery: Delivery,
    /// Created, unix milliseconds.
    pub created_ms: i64,
    /// Expires (no use at or after this instant), unix milliseconds.
    pub expires_ms: i64,
    /// Not usable before this instant, unix milliseconds.
    pub not_before_ms: Option<i64>,
    /// At most this many successful uses; `None` for unlimited.
    pub max_uses: Option<u64>,
    /// Uses taken so far.
    pub uses: u64,
    /// CIDRs (IPv4 or IPv6, canonical form) the client must be in; empty for anywhere.
    pub allowed_ips: Vec<String>,
    /// File name for `Content-Disposition`.
    pub filename: Option<String>,
    /// argon2id hash (PHC string) of the link's password, if it has one.
    pub password_hash: Option<String>,
    /// Group, for revoking or cutting the expiry of many links at once.
    pub group: Option<String>,
    /// Revoked at, unix milliseconds.
    pub revoked_ms: Option<i64>,
}

impl LinkRecord {
    /// A plain link: a streamed GET of `target`, valid from `created_ms` until
    /// `expires_ms`, no other condition, no use yet. Its id and token hash are
    /// given when it is stored; the options a link spec asks for are set on top.
    pub fn new(issuer: LinkIssuer, target: LinkTarget, created_ms: i64, expires_ms: i64) -> Self {
        Self {
            id: String::new(),
            token_hash: String::new(),
            issuer,
            target,
            method: LinkMethod::Get,
            delivery: Delivery::Stream,
            created_ms,
            expires_ms,
            not_before_ms: None,
            max_uses: None,
            uses: 0,
            allowed_ips: Vec::new(),
            filename: None,
            password_hash: None,
            group: None,
            revoked_ms: None,
        }
    }
}

/// One redemption attempt, granted or denied: every attempt goes to the link's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The link's id.
    pub link_id: String,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Client address.
    pub client_ip: String,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
    /// Request method.
    pub method: String,
    /// HTTP status answered.
    pub status: u16,
    /// `granted`, or the denial reason (e.g. `expired`, `ip-not-allowed`).
    pub outcome: String,
    /// Body bytes transferred.
    pub bytes: u64,
}

/// Selects links for listing and bulk revocation (the body of
/// `POST /-/api/v1/links:revoke`); every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFilter {
    /// Exactly this group.
    pub group: Option<String>,
    /// Exactly this issuer, in [`LinkIssuer::as_str`] form.
    pub issuer: Option<String>,
    /// Object targets in this bucket.
    pub bucket: Option<String>,
    /// Object targets whose key starts with this.
    pub prefix: Option<String>,
}

impl LinkFilter {
    /// True if no field is set (it would select every link).
    pub fn is_empty(&self) -> bool {
        self.group.is_none() && self.issuer.is_none() && self.bucket.is_none() && self.prefix.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_round_trips_through_its_string_form() {
        for issuer in [LinkIssuer::Root, LinkIssuer::User("alice".into()), LinkIssuer::Role("ci:deploy".into())] {
            assert_eq!(LinkIssuer::parse(&issuer.as_str()), Some(issuer.clone()));
            assert_eq!(issuer.to_string().parse::<LinkIssuer>(), Ok(issuer));
        }
        assert_eq!(LinkIssuer::User("bob".into()).as_str(), "user:bob");
        for bad in ["", "Root", "user:", "role:", "group:x", "alice"] {
            assert_eq!(LinkIssuer::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn methods_and_deliveries_round_trip() {
        for m in LinkMethod::ALL {
            assert_eq!(LinkMethod::parse(m.as_str()), Some(m));
            assert_eq!(LinkMethod::parse(&m.as_str().to_ascii_lowercase()), Some(m));
        }
        assert_eq!(LinkMethod::parse("TRACE"), None);
        for d in [Delivery::Stream, Delivery::Redirect] {
            assert_eq!(Delivery::parse(d.as_str()), Some(d));
        }
        assert_eq!(Delivery::parse("Stream"), None);
    }
}

/// The store's handle on one audit row, to settle it once the answer is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuditId(pub i64);

/// Outcome of trying to take one use of a link (`LinkStore::consume`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consume {
    /// A use was taken and its audit row written.
    Consumed {
        /// Uses after this one.
        uses: u64,
        /// The audit row written with the use.
        audit: AuditId,
    },
    /// Every use has been taken.
    UsedUp,
    /// The link was revoked.
    Revoked,
    /// The link expired.
    Expired,
    /// No such link (never existed, or purged).
    Missing,
}
