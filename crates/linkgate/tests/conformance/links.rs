//! [`LinkStore`] conformance: links round trip field by field, ids and token
//! hashes are unique, listings filter and order newest first, a use is taken
//! atomically with its audit row (exactly `max_uses` successes however many race),
//! refunds, revocation (one, and by filter), group expiry cuts, use counts, the
//! audit trail and purging.
//!
//! Written to hold for a buffering implementation too
//! ([`linkgate::store::write_behind::BufferedLinks`]): `count_uses`, `append_audit`
//! and `settle_audit` may be buffered, so the checks observe them only through the
//! reads that must show them (`link`, `list_links`, `audit`, and `purge`, which
//! must count them). `link_by_token_hash` is the redemption path and is not asked
//! to show buffered counts, nor is `consume`'s `uses` for a link also counted with
//! `count_uses`: counts are only for links without `max_uses`, where nothing is
//! decided by them (see the `store::links` module doc).

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use linkgate::auth::secrets::token_hash;
use linkgate::store::StoreErrorKind;
use linkgate::store::links::{
    Activity, AuditId, AuditRecord, AuditSettle, Consume, Delivery, LinkFilter, LinkIssuer, LinkMethod, LinkRecord, LinkStore, LinkTarget,
    UseCount,
};

use super::{assert_err_kind, sorted};

/// Runs every check, in order, on a fresh, empty store. The purge and the
/// listing checks run first: they need the store to themselves (the purge check
/// empties it again when it is done).
pub async fn run(store: Arc<dyn LinkStore>) {
    let s = store.as_ref();
    check_purge(s).await;
    check_list_filters_and_order(s).await;
    check_round_trip(s).await;
    check_unique_id_and_token_hash(s).await;
    check_consume(s).await;
    check_racing_consumers(&store).await;
    check_abandoned_consume(s).await;
    check_refund(s).await;
    check_settle_audit(s).await;
    check_count_uses(s).await;
    check_record_activity(s).await;
    check_audit_trail(s).await;
    check_revoke(s).await;
    check_cut_group_expiry(s).await;
}

const DAY: i64 = 86_400_000;

/// An unlimited GET link to `bucket`/`key` by user `alice`, valid from 1 s to 100 s.
pub fn object_link(id: &str, bucket: &str, key: &str) -> LinkRecord {
    let target = LinkTarget::Object { bucket: bucket.into(), key: key.into() };
    LinkRecord {
        id: id.into(),
        token_hash: token_hash(&format!("token of {id}")),
        ..LinkRecord::new(LinkIssuer::User("alice".into()), target, 1_000, 100_000)
    }
}

fn attempt(link_id: &str, at_ms: i64, outcome: &str) -> AuditRecord {
    AuditRecord {
        link_id: link_id.into(),
        at_ms,
        client_ip: "2001:db8::1".into(),
        user_agent: (at_ms % 2 == 0).then(|| "curl/8.5.0".into()),
        method: "GET".into(),
        status: if outcome == "granted" { 200 } else { 410 },
        outcome: outcome.into(),
        bytes: u64::try_from(at_ms).unwrap_or(0) * 1000,
    }
}

async fn create(s: &dyn LinkStore, link: &LinkRecord) {
    s.create_link(link).await.unwrap_or_else(|e| panic!("create_link {}: {e}", link.id));
}

async fn read(s: &dyn LinkStore, id: &str) -> LinkRecord {
    s.link(id).await.unwrap().unwrap_or_else(|| panic!("link {id} is missing"))
}

async fn list(s: &dyn LinkStore, filter: LinkFilter, limit: usize) -> Vec<String> {
    s.list_links(&filter, limit).await.unwrap().into_iter().map(|l| l.id).collect()
}

async fn consumed(s: &dyn LinkStore, id: &str, now_ms: i64, row: &AuditRecord) -> (u64, AuditId) {
    match s.consume(id, now_ms, row.clone()).await.unwrap() {
        Consume::Consumed { uses, audit } => (uses, audit),
        other => panic!("consume {id} at {now_ms}: expected a use, got {other:?}"),
    }
}

fn group(g: &str) -> LinkFilter {
    LinkFilter { group: Some(g.into()), ..LinkFilter::default() }
}

fn issuer(i: &str) -> LinkFilter {
    LinkFilter { issuer: Some(i.into()), ..LinkFilter::default() }
}

fn bucket_prefix(bucket: Option<&str>, prefix: Option<&str>) -> LinkFilter {
    LinkFilter { bucket: bucket.map(Into::into), prefix: prefix.map(Into::into), ..LinkFilter::default() }
}

/// Purge deletes links dead (expired, revoked or used up) for longer than the
/// link retention, and audit rows older than the audit retention; the boundaries
/// are kept. Leaves the store empty.
pub async fn check_purge(s: &dyn LinkStore) {
    assert_eq!(list(s, LinkFilter::default(), 1000).await, Vec::<String>::new(), "a fresh store has no links");
    let now = 100 * DAY;
    let cutoff = now - 7 * DAY;
    let mk = |id: &'static str, f: fn(&mut LinkRecord)| {
        let mut l = object_link(id, "b", "k");
        l.created_ms = 10 * DAY;
        l.expires_ms = 200 * DAY;
        f(&mut l);
        l
    };
    let links = [
        mk("live", |_| {}),
        mk("expired-long-ago", |l| l.expires_ms = 50 * DAY),
        mk("expired-at-cutoff", |l| l.expires_ms = 93 * DAY),
        mk("expired-recently", |l| l.expires_ms = 99 * DAY),
        mk("revoked-long-ago", |l| l.revoked_ms = Some(50 * DAY)),
        mk("revoked-at-cutoff", |l| l.revoked_ms = Some(93 * DAY)),
        mk("revoked-recently", |l| l.revoked_ms = Some(99 * DAY)),
        mk("unused-zero-uses", |l| l.max_uses = Some(0)),
        mk("used-up-long-ago", |l| l.max_uses = Some(1)),
        mk("used-up-at-cutoff", |l| l.max_uses = Some(1)),
        mk("used-up-recently", |l| l.max_uses = Some(1)),
        mk("partly-used", |l| l.max_uses = Some(2)),
    ];
    assert_eq!(cutoff, 93 * DAY);
    for l in &links {
        create(s, l).await;
    }
    // Each use writes an audit row at its own instant.
    for (id, at) in
        [("used-up-long-ago", 20 * DAY), ("used-up-at-cutoff", cutoff), ("used-up-recently", 99 * DAY), ("partly-used", 20 * DAY)]
    {
        assert_eq!(consumed(s, id, at, &attempt(id, at, "granted")).await.0, 1);
    }
    let audit_cutoff = now - 30 * DAY;
    let rows = [
        attempt("a", 10 * DAY, "granted"),
        attempt("b", 60 * DAY, "granted"),
        attempt("c", 95 * DAY, "granted"),
        attempt("d", audit_cutoff, "granted"),
        attempt("expired-long-ago", 95 * DAY, "expired"),
    ];
    s.append_audit(&rows).await.unwrap();

    // Links: expired-long-ago, revoked-long-ago, unused-zero-uses (dead since its
    // creation), used-up-long-ago. Audit rows: a, b, and the uses at 20 days.
    assert_eq!(s.purge(now, 7 * DAY, 30 * DAY).await.unwrap(), (4, 4));
    let left = sorted(&list(s, LinkFilter::default(), 1000).await);
    assert_eq!(
        left,
        [
            "expired-at-cutoff",
            "expired-recently",
            "live",
            "partly-used",
            "revoked-at-cutoff",
            "revoked-recently",
            "used-up-at-cutoff",
            "used-up-recently"
        ]
    );
    assert_eq!(s.link("expired-long-ago").await.unwrap(), None);
    assert_eq!(s.audit("a", 10).await.unwrap(), []);
    assert_eq!(s.audit("b", 10).await.unwrap(), []);
    assert_eq!(s.audit("c", 10).await.unwrap(), [rows[2].clone()]);
    assert_eq!(s.audit("d", 10).await.unwrap(), [rows[3].clone()], "a row exactly at the cutoff is kept");
    assert_eq!(s.audit("partly-used", 10).await.unwrap(), [], "its use's row was old");
    assert_eq!(s.audit("used-up-recently", 10).await.unwrap().len(), 1);
    assert_eq!(s.audit("expired-long-ago", 10).await.unwrap(), [rows[4].clone()], "recent rows outlive their purged link");
    assert_eq!(s.purge(now, 7 * DAY, 30 * DAY).await.unwrap(), (0, 0), "idempotent");

    // Far in the future with no retention, everything is dead: the store is empty again.
    assert_eq!(s.purge(1000 * DAY, 0, 0).await.unwrap(), (8, 5));
    assert_eq!(list(s, LinkFilter::default(), 1000).await, Vec::<String>::new());
}

/// Listings: every filter field, object-only bucket and prefix, literal
/// prefixes, newest first, limits.
pub async fn check_list_filters_and_order(s: &dyn LinkStore) {
    let mk = |id: &str, bucket: &str, key: &str, created_ms: i64, f: fn(&mut LinkRecord)| {
        let mut l = object_link(id, bucket, key);
        l.issuer = LinkIssuer::User("lister".into());
        l.created_ms = created_ms;
        f(&mut l);
        l
    };
    let links = [
        mk("a", "photos", "2024/x.jpg", 1, |l| l.group = Some("g1".into())),
        mk("b", "photos", "2025/y.jpg", 2, |l| l.issuer = LinkIssuer::Root),
        mk("c", "docs", "2024/z.pdf", 3, |l| l.group = Some("g1".into())),
        mk("d", "x", "y", 4, |l| {
            l.target = LinkTarget::Upstream { name: "photos".into(), path: "2024/q".into() };
            l.issuer = LinkIssuer::Role("lister".into());
        }),
        mk("e", "docs", "20%/e", 5, |_| {}),
        mk("f", "photos", "2024/X-upper", 6, |l| l.group = Some("g2".into())),
    ];
    // Created out of order: the order is by creation time, not insertion.
    for i in [2, 0, 5, 1, 4, 3] {
        create(s, &links[i]).await;
    }
    assert_eq!(list(s, LinkFilter::default(), 10).await, ["f", "e", "d", "c", "b", "a"], "newest first");
    assert_eq!(list(s, LinkFilter::default(), 2).await, ["f", "e"], "the newest two");
    assert_eq!(list(s, LinkFilter::default(), 0).await, Vec::<String>::new());
    assert_eq!(list(s, group("g1"), 10).await, ["c", "a"]);
    assert_eq!(list(s, group("none"), 10).await, Vec::<String>::new());
    assert_eq!(list(s, issuer("root"), 10).await, ["b"]);
    assert_eq!(list(s, issuer("role:lister"), 10).await, ["d"]);
    assert_eq!(list(s, issuer("user:lister"), 10).await, ["f", "e", "c", "a"]);
    assert_eq!(list(s, issuer("user:nobody"), 10).await, Vec::<String>::new());
    assert_eq!(list(s, bucket_prefix(Some("photos"), None), 10).await, ["f", "b", "a"], "not the upstream named photos");
    assert_eq!(list(s, bucket_prefix(None, Some("2024/")), 10).await, ["f", "c", "a"], "not the upstream path 2024/q");
    assert_eq!(list(s, bucket_prefix(Some("photos"), Some("2024/")), 10).await, ["f", "a"]);
    assert_eq!(list(s, bucket_prefix(None, Some("2024/x")), 10).await, ["a"], "prefixes are case-sensitive");
    assert_eq!(list(s, bucket_prefix(None, Some("20%")), 10).await, ["e"], "% is literal");
    assert_eq!(list(s, bucket_prefix(None, Some("202_/")), 10).await, Vec::<String>::new(), "_ is literal");
    assert_eq!(list(s, bucket_prefix(None, Some("2024%")), 10).await, Vec::<String>::new());
    let g1_docs = LinkFilter { group: Some("g1".into()), bucket: Some("docs".into()), ..LinkFilter::default() };
    assert_eq!(list(s, g1_docs, 10).await, ["c"], "every set field must match");
    let listed = s.list_links(&group("g2"), 10).await.unwrap();
    assert_eq!(listed, [links[5].clone()], "listings carry whole records");
}

/// Every field reads back as written, by id and by token hash, for every method,
/// delivery, issuer and target kind.
pub async fn check_round_trip(s: &dyn LinkStore) {
    let full = LinkRecord {
        id: "lnk_0123456789abcdef01234567".into(),
        token_hash: token_hash("the full link's token"),
        issuer: LinkIssuer::Role("ci:deploy".into()),
        target: LinkTarget::Upstream { name: "billing".into(), path: "/v1/invoices?id=7&q=%20ü".into() },
        method: LinkMethod::Put,
        delivery: Delivery::Redirect,
        created_ms: 5,
        expires_ms: 9_000_000_000_000,
        not_before_ms: Some(10),
        max_uses: Some(3),
        uses: 1,
        allowed_ips: vec!["10.0.0.0/8".into(), "2001:db8::/32".into(), "192.0.2.7/32".into()],
        filename: Some("report \"final\" – ü.pdf".into()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG".into()),
        group: Some("q3 ünïcode".into()),
        revoked_ms: Some(7),
    };
    create(s, &full).await;
    assert_eq!(s.link(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(s.link_by_token_hash(&full.token_hash).await.unwrap(), Some(full.clone()));

    let mut plain = object_link("rt-plain", "bücket", "dir/ü €\u{1}\t%_key😀/\u{7f}");
    plain.issuer = LinkIssuer::Root;
    create(s, &plain).await;
    assert_eq!(s.link("rt-plain").await.unwrap(), Some(plain.clone()));
    assert_eq!(s.link_by_token_hash(&plain.token_hash).await.unwrap(), Some(plain.clone()));

    for (i, method) in LinkMethod::ALL.into_iter().enumerate() {
        for delivery in [Delivery::Stream, Delivery::Redirect] {
            let mut l = object_link(&format!("rt-{method}-{}", delivery.as_str()), "b", "k");
            l.method = method;
            l.delivery = delivery;
            l.max_uses = Some(u64::try_from(i).unwrap());
            l.issuer = LinkIssuer::User(format!("user {i}"));
            create(s, &l).await;
            assert_eq!(s.link(&l.id).await.unwrap(), Some(l.clone()), "{method} {}", delivery.as_str());
            assert_eq!(s.link_by_token_hash(&l.token_hash).await.unwrap(), Some(l));
        }
    }
    assert_eq!(s.link("nope").await.unwrap(), None);
    assert_eq!(s.link_by_token_hash(&token_hash("nope")).await.unwrap(), None);
    assert_eq!(s.link_by_token_hash(&full.token_hash.to_uppercase()).await.unwrap(), None, "hashes match exactly");
}

/// A duplicate id or token hash is a [`StoreErrorKind::Conflict`], and changes nothing.
pub async fn check_unique_id_and_token_hash(s: &dyn LinkStore) {
    let first = object_link("uq-first", "b", "k");
    create(s, &first).await;
    assert_err_kind(s.create_link(&first).await, StoreErrorKind::Conflict, "the same link twice");
    let same_id = LinkRecord { token_hash: token_hash("another token"), ..object_link("uq-first", "b", "other") };
    assert_err_kind(s.create_link(&same_id).await, StoreErrorKind::Conflict, "a duplicate id");
    let same_hash = LinkRecord { id: "uq-second".into(), ..first.clone() };
    assert_err_kind(s.create_link(&same_hash).await, StoreErrorKind::Conflict, "a duplicate token hash");
    assert_eq!(s.link("uq-first").await.unwrap(), Some(first.clone()), "unchanged");
    assert_eq!(s.link("uq-second").await.unwrap(), None);
    assert_eq!(s.link_by_token_hash(&token_hash("another token")).await.unwrap(), None);
    assert_eq!(s.link_by_token_hash(&first.token_hash).await.unwrap(), Some(first));
}

/// Taking uses one at a time: each use writes its audit row; a refusal says why
/// (revoked, then expired, then used up — the order of `links::state`) and writes
/// nothing; expiry is exclusive at `expires_ms`.
pub async fn check_consume(s: &dyn LinkStore) {
    let mut limited = object_link("cs-limited", "b", "k");
    limited.max_uses = Some(3);
    create(s, &limited).await;
    let mut rows = Vec::new();
    let mut ids = HashSet::new();
    for n in 1..=3 {
        let row = attempt("cs-limited", 2_000 + n, "granted");
        let (uses, audit) = consumed(s, "cs-limited", 2_000, &row).await;
        assert_eq!(uses, u64::try_from(n).unwrap(), "uses after this one");
        assert!(ids.insert(audit), "each use has its own audit row");
        rows.push(row);
    }
    for _ in 0..2 {
        assert_eq!(s.consume("cs-limited", 2_000, attempt("cs-limited", 2_010, "exhausted")).await.unwrap(), Consume::UsedUp);
    }
    assert_eq!(read(s, "cs-limited").await.uses, 3);
    assert_eq!(s.audit("cs-limited", 100).await.unwrap(), rows, "one row per use, none for refusals");

    assert_eq!(s.consume("cs-missing", 2_000, attempt("cs-missing", 2_000, "granted")).await.unwrap(), Consume::Missing);
    assert_eq!(s.audit("cs-missing", 10).await.unwrap(), [], "a refusal writes nothing");
    assert_eq!(s.link("cs-missing").await.unwrap(), None);

    let unlimited = object_link("cs-unlimited", "b", "k");
    create(s, &unlimited).await;
    for n in 1..=5 {
        assert_eq!(consumed(s, "cs-unlimited", 2_000, &attempt("cs-unlimited", 2_000, "granted")).await.0, n);
    }
    // Expiry is exclusive: at expires_ms the link is dead.
    assert_eq!(consumed(s, "cs-unlimited", 99_999, &attempt("cs-unlimited", 99_999, "granted")).await.0, 6);
    assert_eq!(s.consume("cs-unlimited", 100_000, attempt("cs-unlimited", 100_000, "x")).await.unwrap(), Consume::Expired);
    assert_eq!(s.consume("cs-unlimited", 100_001, attempt("cs-unlimited", 100_001, "x")).await.unwrap(), Consume::Expired);
    assert!(s.revoke("cs-unlimited", 100_002).await.unwrap());
    assert_eq!(
        s.consume("cs-unlimited", 200_000, attempt("cs-unlimited", 200_000, "x")).await.unwrap(),
        Consume::Revoked,
        "revoked beats expired"
    );
    assert_eq!(s.consume("cs-unlimited", 50_000, attempt("cs-unlimited", 50_000, "x")).await.unwrap(), Consume::Revoked);
    assert_eq!(read(s, "cs-unlimited").await.uses, 6);
    assert_eq!(s.audit("cs-unlimited", 100).await.unwrap().len(), 6, "no rows for the refusals");

    let mut zero = object_link("cs-zero", "b", "k");
    zero.max_uses = Some(0);
    create(s, &zero).await;
    assert_eq!(s.consume("cs-zero", 2_000, attempt("cs-zero", 2_000, "x")).await.unwrap(), Consume::UsedUp);

    let mut started = object_link("cs-started", "b", "k");
    started.max_uses = Some(3);
    started.uses = 2;
    create(s, &started).await;
    assert_eq!(consumed(s, "cs-started", 2_000, &attempt("cs-started", 2_000, "granted")).await.0, 3, "counts on from the stored uses");
    assert_eq!(s.consume("cs-started", 2_000, attempt("cs-started", 2_001, "x")).await.unwrap(), Consume::UsedUp);

    let mut dead = object_link("cs-expired-used-up", "b", "k");
    dead.max_uses = Some(1);
    dead.uses = 1;
    create(s, &dead).await;
    assert_eq!(
        s.consume("cs-expired-used-up", 100_000, attempt("cs-expired-used-up", 100_000, "x")).await.unwrap(),
        Consume::Expired,
        "expired beats used up"
    );
    assert_eq!(s.consume("cs-expired-used-up", 2_000, attempt("cs-expired-used-up", 2_000, "x")).await.unwrap(), Consume::UsedUp);

    let mut revoked = object_link("cs-revoked-used-up", "b", "k");
    revoked.max_uses = Some(1);
    revoked.uses = 1;
    revoked.revoked_ms = Some(5);
    create(s, &revoked).await;
    assert_eq!(
        s.consume("cs-revoked-used-up", 2_000, attempt("cs-revoked-used-up", 2_000, "x")).await.unwrap(),
        Consume::Revoked,
        "revoked beats used up"
    );
    for id in ["cs-zero", "cs-expired-used-up", "cs-revoked-used-up"] {
        assert_eq!(s.audit(id, 10).await.unwrap(), [], "{id}: refusals write nothing");
    }
    assert_eq!(s.audit("cs-started", 10).await.unwrap().len(), 1);
}

/// A consume whose caller stops waiting once it has been polled (the client
/// went away) still takes the use, and the store settles its row as
/// `499 abandoned`.
pub async fn check_abandoned_consume(s: &dyn LinkStore) {
    use futures_util::FutureExt as _;
    let mut l = object_link("abandoned", "b", "k");
    l.max_uses = Some(3);
    create(s, &l).await;
    let mut waiting = s.consume("abandoned", 2_000, attempt("abandoned", 2_000, "granted"));
    if (&mut waiting).now_or_never().is_some() {
        // Answered at once: nobody stopped waiting, there is nothing to check.
        return;
    }
    drop(waiting);
    // The store finishes on its own time: wait (boundedly) for the row to settle.
    for _ in 0..500 {
        let rows = s.audit("abandoned", 10).await.unwrap();
        if rows.iter().any(|r| r.outcome == "abandoned") {
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!((rows[0].status, rows[0].bytes, rows[0].at_ms), (499, 0, 2_000));
            assert_eq!(read(s, "abandoned").await.uses, 1, "the use was taken");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("an abandoned consume's row never read `abandoned`: {:?}", s.audit("abandoned", 10).await.unwrap());
}

/// `max_uses = 10` with 200 consumers racing, several rounds: exactly 10 uses,
/// numbered 1 to 10, each with its own audit row, and the rows are the winners'.
pub async fn check_racing_consumers(store: &Arc<dyn LinkStore>) {
    const CONSUMERS: usize = 200;
    const MAX: u64 = 10;
    for round in 0..5 {
        let id = format!("race-{round}");
        let mut l = object_link(&id, "b", "k");
        l.max_uses = Some(MAX);
        create(store.as_ref(), &l).await;
        let tasks = (0..CONSUMERS).map(|i| {
            let (s, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                let mut row = attempt(&id, 2_000, "granted");
                row.client_ip = format!("10.{round}.{}.{}", i / 256, i % 256);
                let outcome = s.consume(&id, 2_000, row.clone()).await.unwrap();
                (row.client_ip, outcome)
            })
        });
        let outcomes: Vec<(String, Consume)> = join_all(tasks).await.into_iter().map(Result::unwrap).collect();
        let mut uses = Vec::new();
        let mut audit_ids = HashSet::new();
        let mut winners = HashSet::new();
        for (ip, outcome) in &outcomes {
            match outcome {
                Consume::Consumed { uses: n, audit } => {
                    uses.push(*n);
                    audit_ids.insert(*audit);
                    winners.insert(ip.clone());
                }
                Consume::UsedUp => {}
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        uses.sort_unstable();
        assert_eq!(uses, (1..=MAX).collect::<Vec<_>>(), "round {round}: exactly max_uses uses, each number once");
        assert_eq!(audit_ids.len(), 10, "round {round}: one audit row per use");
        assert_eq!(read(store.as_ref(), &id).await.uses, MAX, "round {round}");
        let rows = store.audit(&id, 1000).await.unwrap();
        assert_eq!(rows.len(), 10, "round {round}: no rows for the 190 refusals");
        assert_eq!(rows.into_iter().map(|r| r.client_ip).collect::<HashSet<_>>(), winners, "round {round}: the winners' rows");
    }
}

/// A refund gives the use back and settles the use's audit row.
pub async fn check_refund(s: &dyn LinkStore) {
    let mut l = object_link("rf", "b", "k");
    l.max_uses = Some(1);
    l.method = LinkMethod::Put;
    create(s, &l).await;
    let first = AuditRecord { method: "PUT".into(), status: 0, outcome: String::new(), bytes: 0, ..attempt("rf", 3_000, "") };
    let (uses, audit) = consumed(s, "rf", 3_000, &first).await;
    assert_eq!(uses, 1);
    assert_eq!(s.consume("rf", 3_001, attempt("rf", 3_001, "x")).await.unwrap(), Consume::UsedUp);
    s.refund("rf", &AuditSettle { id: audit, status: 507, outcome: "refunded".into(), bytes: 0 }).await.unwrap();
    assert_eq!(read(s, "rf").await.uses, 0, "the use is given back");
    let settled = AuditRecord { status: 507, outcome: "refunded".into(), ..first.clone() };
    assert_eq!(s.audit("rf", 10).await.unwrap(), std::slice::from_ref(&settled), "the row is settled, its other fields kept");

    let second = AuditRecord { at_ms: 4_000, ..first };
    let (uses, again) = consumed(s, "rf", 4_000, &second).await;
    assert_eq!(uses, 1, "the link can be used again");
    assert_ne!(again, audit);
    assert_eq!(s.audit("rf", 10).await.unwrap(), [settled, second]);
}

/// Settling fills in what was really answered.
pub async fn check_settle_audit(s: &dyn LinkStore) {
    create(s, &object_link("st", "b", "k")).await;
    let pending = |at_ms| AuditRecord { status: 0, outcome: String::new(), bytes: 0, ..attempt("st", at_ms, "") };
    let (_, x) = consumed(s, "st", 5_000, &pending(5_000)).await;
    let (_, y) = consumed(s, "st", 5_001, &pending(5_001)).await;
    let (_, z) = consumed(s, "st", 5_002, &pending(5_002)).await;
    s.settle_audit(&[]).await.unwrap();
    s.settle_audit(&[
        AuditSettle { id: x, status: 200, outcome: "granted".into(), bytes: 1_234_567 },
        AuditSettle { id: y, status: 206, outcome: "incomplete".into(), bytes: 10 },
    ])
    .await
    .unwrap();
    s.settle_audit(&[AuditSettle { id: z, status: 200, outcome: "granted".into(), bytes: u64::from(u32::MAX) + 1 }]).await.unwrap();
    assert_eq!(
        s.audit("st", 10).await.unwrap(),
        [
            AuditRecord { status: 200, outcome: "granted".into(), bytes: 1_234_567, ..pending(5_000) },
            AuditRecord { status: 206, outcome: "incomplete".into(), bytes: 10, ..pending(5_001) },
            AuditRecord { status: 200, outcome: "granted".into(), bytes: u64::from(u32::MAX) + 1, ..pending(5_002) },
        ]
    );
}

/// Counted uses of unlimited links add up; unknown links are skipped.
pub async fn check_count_uses(s: &dyn LinkStore) {
    for (id, created_ms) in [("cu-1", 1_000), ("cu-2", 1_001)] {
        create(s, &LinkRecord { group: Some("cu".into()), created_ms, ..object_link(id, "b", "k") }).await;
    }
    s.count_uses(&[]).await.unwrap();
    s.count_uses(&[
        UseCount { link_id: "cu-1".into(), count: 3, last_ms: 5_000 },
        UseCount { link_id: "cu-2".into(), count: 1, last_ms: 6_000 },
        UseCount { link_id: "cu-unknown".into(), count: 7, last_ms: 1 },
    ])
    .await
    .unwrap();
    assert_eq!(read(s, "cu-1").await.uses, 3);
    let listed: Vec<(String, u64)> = s.list_links(&group("cu"), 10).await.unwrap().into_iter().map(|l| (l.id, l.uses)).collect();
    assert_eq!(listed, [("cu-2".to_owned(), 1), ("cu-1".to_owned(), 3)], "listings show the counts");
    assert_eq!(s.link("cu-unknown").await.unwrap(), None, "counting does not create links");
    s.count_uses(&[
        UseCount { link_id: "cu-1".into(), count: 2, last_ms: 7_000 },
        UseCount { link_id: "cu-1".into(), count: 1, last_ms: 6_500 },
    ])
    .await
    .unwrap();
    assert_eq!(read(s, "cu-1").await.uses, 6);
    assert_eq!(read(s, "cu-2").await.uses, 1);
}

/// Recording a flush's activity counts the uses, appends the rows and settles
/// the earlier ones, like the three calls it stands for.
pub async fn check_record_activity(s: &dyn LinkStore) {
    create(s, &object_link("ra", "b", "k")).await;
    s.record_activity(Arc::new(Activity::default())).await.unwrap();
    let pending = AuditRecord { status: 0, outcome: String::new(), bytes: 0, ..attempt("ra", 8_000, "") };
    let (_, written) = consumed(s, "ra", 8_000, &pending).await;
    let activity = Activity {
        uses: vec![
            UseCount { link_id: "ra".into(), count: 2, last_ms: 8_200 },
            UseCount { link_id: "ra-unknown".into(), count: 1, last_ms: 1 },
        ],
        rows: vec![attempt("ra", 8_100, "granted"), attempt("ra", 8_200, "expired")],
        settles: vec![AuditSettle { id: written, status: 200, outcome: "granted".into(), bytes: 42 }],
    };
    s.record_activity(Arc::new(activity)).await.unwrap();
    let link = read(s, "ra").await;
    assert_eq!(link.uses, 3, "the use taken plus the two counted");
    assert_eq!(s.link("ra-unknown").await.unwrap(), None, "counting does not create links");
    assert_eq!(
        s.audit("ra", 10).await.unwrap(),
        [
            AuditRecord { status: 200, outcome: "granted".into(), bytes: 42, ..pending },
            attempt("ra", 8_100, "granted"),
            attempt("ra", 8_200, "expired"),
        ]
    );
}

/// The audit trail: the latest `limit` attempts, oldest first (by time, whatever
/// order they were written in; rows of one instant in the order appended).
pub async fn check_audit_trail(s: &dyn LinkStore) {
    let r = |link: &str, at, outcome| attempt(link, at, outcome);
    s.append_audit(&[]).await.unwrap();
    s.append_audit(&[r("au", 10, "granted")]).await.unwrap();
    s.append_audit(&[r("au-other", 11, "granted")]).await.unwrap();
    s.append_audit(&[r("au", 12, "granted"), r("au", 12, "exhausted")]).await.unwrap();
    s.append_audit(&[r("au", 13, "expired")]).await.unwrap();
    let all = [r("au", 10, "granted"), r("au", 12, "granted"), r("au", 12, "exhausted"), r("au", 13, "expired")];
    assert_eq!(s.audit("au", 100).await.unwrap(), all);
    assert_eq!(s.audit("au", 2).await.unwrap(), all[2..], "the latest two, oldest first");
    assert_eq!(s.audit("au", 0).await.unwrap(), []);
    assert_eq!(s.audit("au-other", 100).await.unwrap(), [r("au-other", 11, "granted")]);
    assert_eq!(s.audit("au-none", 100).await.unwrap(), []);

    // Rows arrive out of order (a long download settles after a short one).
    s.append_audit(&[r("au-late", 20, "granted"), r("au-late", 15, "granted")]).await.unwrap();
    s.append_audit(&[r("au-late", 17, "granted")]).await.unwrap();
    assert_eq!(
        s.audit("au-late", 10).await.unwrap(),
        [r("au-late", 15, "granted"), r("au-late", 17, "granted"), r("au-late", 20, "granted")]
    );

    // More rows than a write-behind batch.
    let bulk: Vec<AuditRecord> = (0..600).map(|i| r("au-bulk", 1_000 + i, if i % 3 == 0 { "granted" } else { "expired" })).collect();
    s.append_audit(&bulk).await.unwrap();
    assert_eq!(s.audit("au-bulk", 1000).await.unwrap(), bulk);
    assert_eq!(s.audit("au-bulk", 3).await.unwrap(), bulk[597..]);

    // Rows written with a use and rows appended interleave by time.
    create(s, &object_link("au-mixed", "b", "k")).await;
    s.append_audit(&[r("au-mixed", 30, "ip-not-allowed")]).await.unwrap();
    consumed(s, "au-mixed", 40, &r("au-mixed", 40, "granted")).await;
    s.append_audit(&[r("au-mixed", 50, "ip-not-allowed")]).await.unwrap();
    assert_eq!(
        s.audit("au-mixed", 10).await.unwrap(),
        [r("au-mixed", 30, "ip-not-allowed"), r("au-mixed", 40, "granted"), r("au-mixed", 50, "ip-not-allowed")]
    );
}

/// Revoking one link (once), and many by filter: only live links count, the
/// first revocation time is kept, an empty filter revokes nothing, and bucket and
/// prefix select object targets only, by literal prefix.
pub async fn check_revoke(s: &dyn LinkStore) {
    let mk = |id: &str, target: LinkTarget, f: fn(&mut LinkRecord)| {
        let mut l = object_link(id, "", "");
        l.target = target;
        l.issuer = LinkIssuer::User("rev-alice".into());
        f(&mut l);
        l
    };
    let obj = |bucket: &str, key: &str| LinkTarget::Object { bucket: bucket.into(), key: key.into() };
    let up = |name: &str, path: &str| LinkTarget::Upstream { name: name.into(), path: path.into() };
    let links = [
        mk("rv-a", obj("rv-photos", "2024/a"), |l| l.group = Some("rv-g".into())),
        mk("rv-b", obj("rv-photos", "2024/b"), |_| {}),
        mk("rv-c", obj("rv-photos", "2025/c"), |_| {}),
        mk("rv-d", obj("rv-docs", "2024/d"), |_| {}),
        mk("rv-e", up("rv-photos", "2024/e"), |l| l.group = Some("rv-g".into())),
        mk("rv-f", obj("rv-x", "z"), |l| l.issuer = LinkIssuer::Role("rev-ops".into())),
        mk("rv-g", obj("rv-photos", "20_4/g"), |_| {}),
        mk("rv-h", up("rv-photos", "2024/h"), |_| {}),
    ];
    for l in &links {
        create(s, l).await;
    }
    let revoked_at = |id: &'static str| async move { read(s, id).await.revoked_ms };

    assert!(s.revoke("rv-a", 5).await.unwrap());
    assert!(!s.revoke("rv-a", 6).await.unwrap(), "already revoked");
    assert!(!s.revoke("rv-nope", 6).await.unwrap());
    assert_eq!(revoked_at("rv-a").await, Some(5));

    assert_eq!(s.revoke_matching(&LinkFilter::default(), 7).await.unwrap(), 0, "an empty filter revokes nothing");
    assert_eq!(revoked_at("rv-b").await, None);
    // Group rv-g: rv-a (already revoked, not counted) and rv-e.
    assert_eq!(s.revoke_matching(&group("rv-g"), 7).await.unwrap(), 1);
    assert_eq!(revoked_at("rv-a").await, Some(5), "the first revocation time is kept");
    assert_eq!(revoked_at("rv-e").await, Some(7));
    // Bucket + prefix: object targets only (not rv-h, an upstream named like the bucket).
    assert_eq!(s.revoke_matching(&bucket_prefix(Some("rv-photos"), Some("2024/")), 8).await.unwrap(), 1, "rv-b only");
    assert_eq!(revoked_at("rv-b").await, Some(8));
    for id in ["rv-c", "rv-d", "rv-g", "rv-h"] {
        assert_eq!(read(s, id).await.revoked_ms, None, "{id}");
    }
    assert_eq!(s.revoke_matching(&bucket_prefix(Some("rv-photos"), Some("20_4/")), 9).await.unwrap(), 1, "_ is literal: rv-g only");
    assert_eq!(revoked_at("rv-c").await, None);
    let alice_2024 = LinkFilter { issuer: Some("user:rev-alice".into()), prefix: Some("2024/".into()), ..LinkFilter::default() };
    assert_eq!(s.revoke_matching(&alice_2024, 10).await.unwrap(), 1, "rv-d only: a prefix alone selects object targets too");
    assert_eq!(revoked_at("rv-h").await, None);
    let alice_photos = LinkFilter { issuer: Some("user:rev-alice".into()), bucket: Some("rv-photos".into()), ..LinkFilter::default() };
    assert_eq!(s.revoke_matching(&alice_photos, 11).await.unwrap(), 1, "rv-c only");
    assert_eq!(s.revoke_matching(&issuer("role:rev-ops"), 12).await.unwrap(), 1, "rv-f");
    assert_eq!(s.revoke_matching(&issuer("user:rev-alice"), 13).await.unwrap(), 1, "rv-h, the last live one");
    assert_eq!(s.revoke_matching(&issuer("user:rev-alice"), 14).await.unwrap(), 0);
    let times: Vec<(String, Option<i64>)> =
        s.list_links(&issuer("user:rev-alice"), 100).await.unwrap().into_iter().map(|l| (l.id, l.revoked_ms)).collect();
    assert_eq!(
        sorted(&times),
        [
            ("rv-a".to_owned(), Some(5)),
            ("rv-b".to_owned(), Some(8)),
            ("rv-c".to_owned(), Some(11)),
            ("rv-d".to_owned(), Some(10)),
            ("rv-e".to_owned(), Some(7)),
            ("rv-g".to_owned(), Some(9)),
            ("rv-h".to_owned(), Some(13)),
        ]
    );
    assert_eq!(s.consume("rv-b", 2_000, attempt("rv-b", 2_000, "x")).await.unwrap(), Consume::Revoked);
}

/// Cutting a group's expiry only ever shortens, and only that group's links.
pub async fn check_cut_group_expiry(s: &dyn LinkStore) {
    let mk =
        |id: &str, grp: Option<&str>, expires_ms: i64| LinkRecord { group: grp.map(Into::into), expires_ms, ..object_link(id, "b", "k") };
    for l in [
        mk("cg-a", Some("cg"), 50_000),
        mk("cg-b", Some("cg"), 200_000),
        mk("cg-c", Some("cg"), 100_000),
        mk("cg-x", Some("cg-other"), 300_000),
        mk("cg-y", None, 300_000),
    ] {
        create(s, &l).await;
    }
    let expiry = |id: &'static str| async move { read(s, id).await.expires_ms };
    assert_eq!(s.cut_group_expiry("cg", 100_000).await.unwrap(), 1, "cg-b only: cg-a is shorter, cg-c equal");
    assert_eq!(expiry("cg-a").await, 50_000, "never lengthened");
    assert_eq!(expiry("cg-b").await, 100_000);
    assert_eq!(expiry("cg-c").await, 100_000);
    assert_eq!(expiry("cg-x").await, 300_000, "other groups untouched");
    assert_eq!(expiry("cg-y").await, 300_000);
    assert_eq!(s.cut_group_expiry("cg", 10).await.unwrap(), 3);
    assert_eq!(s.consume("cg-b", 2_000, attempt("cg-b", 2_000, "x")).await.unwrap(), Consume::Expired);
    assert_eq!(s.cut_group_expiry("cg", 500_000).await.unwrap(), 0, "a later expiry changes nothing");
    assert_eq!(expiry("cg-a").await, 10);
    assert_eq!(s.cut_group_expiry("cg-none", 10).await.unwrap(), 0);
    assert_eq!(expiry("cg-y").await, 300_000);
}
