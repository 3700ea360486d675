//! [`LinkStore`] on the embedded SQLite database.

use std::collections::HashMap;

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::links::{AuditRecord, Consume, LinkFilter, LinkIssuer, LinkRecord, LinkStore, LinkTarget};
use super::sqlite::SqliteStore;
use super::{StoreError, StoreResult};

/// Audit rows buffered before a batch is written.
const AUDIT_BATCH: usize = 512;

/// Link tables, created with the rest of the schema.
///
/// `last_used_ms` is internal: it dates when a used-up link died, for [`LinkStore::purge`].
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    issuer TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    bucket TEXT,
    key TEXT,
    upstream TEXT,
    path TEXT,
    method TEXT NOT NULL,
    delivery TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    not_before_ms INTEGER,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    allowed_ips TEXT NOT NULL,
    filename TEXT,
    password_hash TEXT,
    grp TEXT,
    revoked_ms INTEGER,
    last_used_ms INTEGER
);
CREATE INDEX IF NOT EXISTS links_grp ON links (grp);
CREATE INDEX IF NOT EXISTS links_issuer ON links (issuer);
CREATE INDEX IF NOT EXISTS links_bucket_key ON links (bucket, key);
CREATE TABLE IF NOT EXISTS link_audit (
    link_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    client_ip TEXT NOT NULL,
    user_agent TEXT,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS link_audit_link ON link_audit (link_id, at_ms);
CREATE INDEX IF NOT EXISTS link_audit_at ON link_audit (at_ms);
"#;

const LINK_COLUMNS: &str = "id, token_hash, issuer, target_kind, bucket, key, upstream, path, method, delivery, created_ms, expires_ms, \
                            not_before_ms, max_uses, uses, allowed_ips, filename, password_hash, grp, revoked_ms";

fn corrupt(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(StoreError(what)))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn link_from_row(r: &Row<'_>) -> rusqlite::Result<LinkRecord> {
    let issuer: String = r.get(2)?;
    let issuer = LinkIssuer::parse(&issuer).ok_or_else(|| corrupt(2, format!("invalid link issuer {issuer:?}")))?;
    let kind: String = r.get(3)?;
    let target = match kind.as_str() {
        "object" => LinkTarget::Object { bucket: r.get(4)?, key: r.get(5)? },
        "upstream" => LinkTarget::Upstream { name: r.get(6)?, path: r.get(7)? },
        other => return Err(corrupt(3, format!("invalid link target kind {other:?}"))),
    };
    // An unreadable IP restriction must not turn into "anywhere": fail the read.
    let ips: String = r.get(15)?;
    let allowed_ips = serde_json::from_str(&ips).map_err(|e| rusqlite::Error::FromSqlConversionFailure(15, Type::Text, Box::new(e)))?;
    Ok(LinkRecord {
        id: r.get(0)?,
        token_hash: r.get(1)?,
        issuer,
        target,
        method: r.get(8)?,
        delivery: r.get(9)?,
        created_ms: r.get(10)?,
        expires_ms: r.get(11)?,
        not_before_ms: r.get(12)?,
        max_uses: r.get::<_, Option<i64>>(13)?.map(to_u64),
        uses: to_u64(r.get(14)?),
        allowed_ips,
        filename: r.get(16)?,
        password_hash: r.get(17)?,
        group: r.get(18)?,
        revoked_ms: r.get(19)?,
    })
}

fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        link_id: r.get(0)?,
        at_ms: r.get(1)?,
        client_ip: r.get(2)?,
        user_agent: r.get(3)?,
        method: r.get(4)?,
        status: u16::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
        outcome: r.get(6)?,
        bytes: to_u64(r.get(7)?),
    })
}

/// The `WHERE` conditions for `filter` (joined with `AND`, possibly none), with
/// their values numbered from `?{first}`.
fn filter_sql(filter: &LinkFilter, first: usize) -> (Vec<String>, Vec<Value>) {
    let mut conds = Vec::new();
    let mut values = Vec::new();
    let mut push = |cond: &dyn Fn(usize) -> String, value: &str| {
        conds.push(cond(first + values.len()));
        values.push(Value::Text(value.to_owned()));
    };
    if let Some(group) = &filter.group {
        push(&|n| format!("grp = ?{n}"), group);
    }
    if let Some(issuer) = &filter.issuer {
        push(&|n| format!("issuer = ?{n}"), issuer);
    }
    if let Some(bucket) = &filter.bucket {
        push(&|n| format!("target_kind = 'object' AND bucket = ?{n}"), bucket);
    }
    if let Some(prefix) = &filter.prefix {
        // Byte-wise prefix test: no LIKE wildcards or escaping, and NUL-safe.
        push(
            &|n| format!("target_kind = 'object' AND substr(CAST(key AS BLOB), 1, length(CAST(?{n} AS BLOB))) = CAST(?{n} AS BLOB)"),
            prefix,
        );
    }
    (conds, values)
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Why a use could not be taken, read on the writer right after the failed `UPDATE`.
fn why_not(c: &Connection, id: &str, now_ms: i64) -> rusqlite::Result<Consume> {
    let row: Option<(Option<i64>, i64)> = c
        .prepare_cached("SELECT revoked_ms, expires_ms FROM links WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        None => Consume::Missing,
        Some((Some(_), _)) => Consume::Revoked,
        Some((None, expires_ms)) if expires_ms <= now_ms => Consume::Expired,
        Some(_) => Consume::UsedUp,
    })
}

impl LinkStore for SqliteStore {
    fn create_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let (kind, bucket, key, upstream, path) = match &link.target {
            LinkTarget::Object { bucket, key } => ("object", Some(bucket), Some(key), None, None),
            LinkTarget::Upstream { name, path } => ("upstream", None, None, Some(name), Some(path)),
        };
        let ips = serde_json::to_string(&link.allowed_ips).map_err(|e| StoreError(e.to_string()))?;
        self.write(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO links ({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))?
            .execute(params![
                link.id,
                link.token_hash,
                link.issuer.as_str(),
                kind,
                bucket,
                key,
                upstream,
                path,
                link.method,
                link.delivery,
                link.created_ms,
                link.expires_ms,
                link.not_before_ms,
                link.max_uses.map(to_i64),
                to_i64(link.uses),
                ips,
                link.filename,
                link.password_hash,
                link.group,
                link.revoked_ms,
            ])?;
            Ok(())
        })
    }

    fn link_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<LinkRecord>> {
        let found = self.read(|c| {
            c.prepare_cached(&format!("SELECT {LINK_COLUMNS} FROM links WHERE token_hash = ?1"))?
                .query_row(params![token_hash], link_from_row)
                .optional()
        })?;
        // The index found it; confirm in constant time all the same.
        Ok(found.filter(|l| crate::auth::secrets::ct_eq(&l.token_hash, token_hash)))
    }

    fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>> {
        self.flush_before_read();
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {LINK_COLUMNS} FROM links WHERE id = ?1"))?.query_row(params![id], link_from_row).optional()
        })
    }

    fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>> {
        self.flush_before_read();
        let (conds, mut values) = filter_sql(filter, 1);
        let cond = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        let sql = format!("SELECT {LINK_COLUMNS} FROM links {cond} ORDER BY created_ms DESC, rowid DESC LIMIT ?{}", values.len() + 1);
        values.push(Value::Integer(limit_i64(limit)));
        self.read(|c| c.prepare_cached(&sql)?.query_map(params_from_iter(values), link_from_row)?.collect())
    }

    fn consume_later(&self, id: &str, now_ms: i64) -> super::links::ConsumeTicket {
        let id = id.to_owned();
        self.write_grouped(move |c| {
            let id = id.as_str();
            let taken: Option<i64> = c
                .prepare_cached(
                    "UPDATE links SET uses = uses + 1, last_used_ms = ?2
                     WHERE id = ?1 AND revoked_ms IS NULL AND expires_ms > ?2 AND (max_uses IS NULL OR uses < max_uses)
                     RETURNING uses",
                )?
                .query_row(params![id, now_ms], |r| r.get(0))
                .optional()?;
            match taken {
                Some(uses) => Ok(Consume::Consumed { uses: to_u64(uses) }),
                // Still under the writer lock: nothing changed between the two statements.
                None => why_not(c, id, now_ms),
            }
        })
    }

    fn revoke(&self, id: &str, now_ms: i64) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("UPDATE links SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL", params![id, now_ms])? == 1))
    }

    fn revoke_matching(&self, filter: &LinkFilter, now_ms: i64) -> StoreResult<usize> {
        if filter.is_empty() {
            return Ok(0);
        }
        let (conds, mut values) = filter_sql(filter, 2);
        let sql = format!("UPDATE links SET revoked_ms = ?1 WHERE revoked_ms IS NULL AND {}", conds.join(" AND "));
        values.insert(0, Value::Integer(now_ms));
        self.write(|c| c.execute(&sql, params_from_iter(values)))
    }

    fn cut_group_expiry(&self, group: &str, expires_ms: i64) -> StoreResult<usize> {
        self.write(|c| c.execute("UPDATE links SET expires_ms = ?2 WHERE grp = ?1 AND expires_ms > ?2", params![group, expires_ms]))
    }

    fn append_audit(&self, rec: &AuditRecord) -> StoreResult<()> {
        let full = {
            let mut buf = self.audit_buffer.lock().map_err(|e| StoreError(e.to_string()))?;
            buf.push(rec.clone());
            buf.len() >= AUDIT_BATCH
        };
        if full { self.flush_audit() } else { Ok(()) }
    }

    fn note_use(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        let mut uses = self.use_buffer.lock().map_err(|e| StoreError(e.to_string()))?;
        let entry = uses.entry(id.to_owned()).or_insert((0, now_ms));
        entry.0 += 1;
        entry.1 = entry.1.max(now_ms);
        Ok(())
    }

    fn flush_audit(&self) -> StoreResult<()> {
        let _flushing = self.flush_lock.lock().map_err(|e| StoreError(e.to_string()))?;
        let batch = std::mem::take(&mut *self.audit_buffer.lock().map_err(|e| StoreError(e.to_string()))?);
        let uses = std::mem::take(&mut *self.use_buffer.lock().map_err(|e| StoreError(e.to_string()))?);
        if batch.is_empty() && uses.is_empty() {
            return Ok(());
        }
        let written = self.write_buffered(&batch, &uses);
        if written.is_err() {
            // Nothing was written (one transaction): put it back for the next flush.
            self.requeue(batch, uses);
        }
        written
    }

    fn audit(&self, link_id: &str, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        self.flush_audit()?;
        let mut rows = self.read(|c| {
            c.prepare_cached(
                "SELECT link_id, at_ms, client_ip, user_agent, method, status, outcome, bytes FROM link_audit
                 WHERE link_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT ?2",
            )?
            .query_map(params![link_id, limit_i64(limit)], audit_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.reverse();
        Ok(rows)
    }

    fn purge(&self, now_ms: i64, link_retention_ms: i64, audit_retention_ms: i64) -> StoreResult<(usize, usize)> {
        self.flush_audit()?;
        let link_cutoff = now_ms.saturating_sub(link_retention_ms);
        let audit_cutoff = now_ms.saturating_sub(audit_retention_ms);
        self.write(|c| {
            let tx = c.transaction()?;
            let links = tx.execute(
                "DELETE FROM links WHERE expires_ms < ?1
                    OR (revoked_ms IS NOT NULL AND revoked_ms < ?1)
                    OR (max_uses IS NOT NULL AND uses >= max_uses AND COALESCE(last_used_ms, created_ms) < ?1)",
                params![link_cutoff],
            )?;
            let audit = tx.execute("DELETE FROM link_audit WHERE at_ms < ?1", params![audit_cutoff])?;
            tx.commit()?;
            Ok((links, audit))
        })
    }
}

/// Most audit rows kept in memory while the database refuses writes: beyond it the
/// oldest are dropped (and the loss logged) rather than memory growing without end.
const MAX_BUFFERED_AUDIT: usize = 100_000;

/// The write-behind buffers (audit rows, use counts of unlimited links).
impl SqliteStore {
    /// Writes buffered rows and counts in one transaction (all or nothing).
    fn write_buffered(&self, batch: &[AuditRecord], uses: &HashMap<String, (u64, i64)>) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx
                    .prepare_cached("UPDATE links SET uses = uses + ?2, last_used_ms = MAX(COALESCE(last_used_ms, 0), ?3) WHERE id = ?1")?;
                for (id, (count, last_ms)) in uses {
                    stmt.execute(params![id, to_i64(*count), last_ms])?;
                }
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO link_audit (link_id, at_ms, client_ip, user_agent, method, status, outcome, bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for rec in batch {
                    stmt.execute(params![
                        rec.link_id,
                        rec.at_ms,
                        rec.client_ip,
                        rec.user_agent,
                        rec.method,
                        rec.status,
                        rec.outcome,
                        to_i64(rec.bytes)
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Puts back what a failed flush took, merging with anything buffered since.
    fn requeue(&self, batch: Vec<AuditRecord>, uses: HashMap<String, (u64, i64)>) {
        if let Ok(mut buffered) = self.audit_buffer.lock() {
            let newer = std::mem::replace(&mut *buffered, batch);
            buffered.extend(newer);
            if buffered.len() > MAX_BUFFERED_AUDIT {
                let dropped = buffered.len() - MAX_BUFFERED_AUDIT;
                buffered.drain(..dropped);
                tracing::error!(dropped, "link audit rows could not be written for a while; the oldest were dropped");
            }
        }
        if let Ok(mut buffered) = self.use_buffer.lock() {
            for (id, (count, last_ms)) in uses {
                let entry = buffered.entry(id).or_insert((0, last_ms));
                entry.0 += count;
                entry.1 = entry.1.max(last_ms);
            }
        }
    }

    /// Reads show buffered rows and counts: flush first. A flush that fails (say,
    /// a full disk) keeps them buffered and does not fail the read.
    fn flush_before_read(&self) {
        if let Err(e) = self.flush_audit() {
            tracing::warn!(error = %e, "cannot write buffered link audit rows and use counts; they stay buffered");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    struct TempStore {
        store: SqliteStore,
        dir: std::path::PathBuf,
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl std::ops::Deref for TempStore {
        type Target = SqliteStore;
        fn deref(&self) -> &SqliteStore {
            &self.store
        }
    }

    fn store() -> TempStore {
        let dir = std::env::temp_dir().join(format!("linkgate-links-{}", crate::ids::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        TempStore { store: SqliteStore::open(&dir.join("db")).unwrap(), dir }
    }

    fn object_link(id: &str, bucket: &str, key: &str) -> LinkRecord {
        LinkRecord {
            id: id.into(),
            token_hash: format!("hash-{id}"),
            issuer: LinkIssuer::User("alice".into()),
            target: LinkTarget::Object { bucket: bucket.into(), key: key.into() },
            method: "GET".into(),
            delivery: "stream".into(),
            created_ms: 1_000,
            expires_ms: 100_000,
            not_before_ms: None,
            max_uses: None,
            uses: 0,
            allowed_ips: vec![],
            filename: None,
            password_hash: None,
            group: None,
            revoked_ms: None,
        }
    }

    fn ids(links: &[LinkRecord]) -> Vec<&str> {
        links.iter().map(|l| l.id.as_str()).collect()
    }

    #[test]
    fn round_trip() {
        let s = store();
        let full = LinkRecord {
            id: "lnk_full".into(),
            token_hash: "abc123".into(),
            issuer: LinkIssuer::Role("deployer".into()),
            target: LinkTarget::Upstream { name: "billing".into(), path: "/v1/invoices?id=7".into() },
            method: "PUT".into(),
            delivery: "redirect".into(),
            created_ms: 5,
            expires_ms: 9_000_000_000_000,
            not_before_ms: Some(10),
            max_uses: Some(3),
            uses: 1,
            allowed_ips: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
            filename: Some("report \"final\".pdf".into()),
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into()),
            group: Some("q3".into()),
            revoked_ms: Some(7),
        };
        s.create_link(&full).unwrap();
        let plain = object_link("lnk_plain", "b", "dir/ü\0key");
        s.create_link(&plain).unwrap();
        assert_eq!(s.link("lnk_full").unwrap(), Some(full.clone()));
        assert_eq!(s.link_by_token_hash("abc123").unwrap(), Some(full.clone()));
        assert_eq!(s.link_by_token_hash("hash-lnk_plain").unwrap(), Some(plain.clone()));
        assert_eq!(s.link("nope").unwrap(), None);
        assert_eq!(s.link_by_token_hash("nope").unwrap(), None);
        // Ids and token hashes are unique.
        assert!(s.create_link(&full).is_err());
        assert!(s.create_link(&LinkRecord { id: "lnk_other".into(), ..full.clone() }).is_err());
    }

    #[test]
    fn list_filters_and_orders_newest_first() {
        let s = store();
        let mut a = object_link("a", "photos", "2024/x.jpg");
        a.group = Some("g1".into());
        a.created_ms = 1;
        let mut b = object_link("b", "photos", "2025/y.jpg");
        b.created_ms = 2;
        b.issuer = LinkIssuer::Root;
        let mut c = object_link("c", "docs", "2024/z.pdf");
        c.created_ms = 3;
        c.group = Some("g1".into());
        let mut d = object_link("d", "x", "y");
        d.target = LinkTarget::Upstream { name: "api".into(), path: "2024/q".into() };
        d.created_ms = 4;
        for l in [&a, &b, &c, &d] {
            s.create_link(l).unwrap();
        }
        let list = |f: LinkFilter, limit| ids(&s.list_links(&f, limit).unwrap()).into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(list(LinkFilter::default(), 10), ["d", "c", "b", "a"]);
        assert_eq!(list(LinkFilter::default(), 2), ["d", "c"]);
        assert_eq!(list(LinkFilter { group: Some("g1".into()), ..Default::default() }, 10), ["c", "a"]);
        assert_eq!(list(LinkFilter { issuer: Some("root".into()), ..Default::default() }, 10), ["b"]);
        assert_eq!(list(LinkFilter { bucket: Some("photos".into()), ..Default::default() }, 10), ["b", "a"]);
        assert_eq!(list(LinkFilter { prefix: Some("2024/".into()), ..Default::default() }, 10), ["c", "a"]);
        let photos_2024 = LinkFilter { bucket: Some("photos".into()), prefix: Some("2024/".into()), ..Default::default() };
        assert_eq!(list(photos_2024, 10), ["a"]);
        // Prefixes are literal, not LIKE patterns.
        assert!(list(LinkFilter { prefix: Some("20%".into()), ..Default::default() }, 10).is_empty());
    }

    #[test]
    fn noted_uses_are_counted_at_the_next_flush_or_read() {
        let s = store();
        s.create_link(&object_link("u", "b", "k")).unwrap();
        for at in [2_000, 2_500, 2_100] {
            s.note_use("u", at).unwrap();
        }
        s.note_use("gone", 2_000).unwrap();
        let read = s.link("u").unwrap().unwrap();
        assert_eq!(read.uses, 3, "a read sees buffered uses");
        let last: i64 = s.read(|c| c.query_row("SELECT last_used_ms FROM links WHERE id = 'u'", [], |r| r.get(0))).unwrap();
        assert_eq!(last, 2_500);
        s.note_use("u", 3_000).unwrap();
        s.flush_audit().unwrap();
        assert_eq!(s.list_links(&LinkFilter::default(), 10).unwrap()[0].uses, 4);
        assert!(s.use_buffer.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failed_flush_keeps_rows_and_counts_for_the_next_one() {
        let s = store();
        s.create_link(&object_link("u", "b", "k")).unwrap();
        s.note_use("u", 2_000).unwrap();
        let row = AuditRecord {
            link_id: "u".into(),
            at_ms: 2_000,
            client_ip: "192.0.2.1".into(),
            user_agent: None,
            method: "GET".into(),
            status: 200,
            outcome: "granted".into(),
            bytes: 10,
        };
        s.append_audit(&row).unwrap();
        s.write(|c| c.execute_batch("ALTER TABLE link_audit RENAME TO link_audit_away")).unwrap();
        assert!(s.flush_audit().is_err());
        s.note_use("u", 3_000).unwrap();
        assert_eq!(s.link("u").unwrap().unwrap().uses, 0, "a read still answers while the flush fails");
        s.write(|c| c.execute_batch("ALTER TABLE link_audit_away RENAME TO link_audit")).unwrap();
        s.flush_audit().unwrap();
        assert_eq!(s.link("u").unwrap().unwrap().uses, 2, "both uses were kept");
        assert_eq!(s.audit("u", 10).unwrap(), [row]);
    }

    #[test]
    fn consume_until_used_up_then_say_why() {
        let s = store();
        let mut l = object_link("l", "b", "k");
        l.max_uses = Some(3);
        s.create_link(&l).unwrap();
        for n in 1..=3 {
            assert_eq!(s.consume("l", 2_000).unwrap(), Consume::Consumed { uses: n });
        }
        assert_eq!(s.consume("l", 2_000).unwrap(), Consume::UsedUp);
        assert_eq!(s.link("l").unwrap().unwrap().uses, 3);
        assert_eq!(s.consume("missing", 2_000).unwrap(), Consume::Missing);

        let unlimited = object_link("u", "b", "k");
        s.create_link(&LinkRecord { token_hash: "u".into(), ..unlimited }).unwrap();
        for n in 1..=50 {
            assert_eq!(s.consume("u", 2_000).unwrap(), Consume::Consumed { uses: n });
        }
        // Expiry is exclusive: at expires_ms the link is dead.
        assert_eq!(s.consume("u", 99_999).unwrap(), Consume::Consumed { uses: 51 });
        assert_eq!(s.consume("u", 100_000).unwrap(), Consume::Expired);
        // Revoked wins over expired, as in `links::state`.
        assert!(s.revoke("u", 100_001).unwrap());
        assert_eq!(s.consume("u", 200_000).unwrap(), Consume::Revoked);
        assert_eq!(s.link("u").unwrap().unwrap().uses, 51);
    }

    #[test]
    fn concurrent_consumers_take_exactly_max_uses() {
        let s = store();
        for round in 0..20 {
            let id = format!("race{round}");
            let mut l = object_link(&id, "b", "k");
            l.max_uses = Some(10);
            s.create_link(&l).unwrap();
            let barrier = Barrier::new(300);
            let outcomes: Vec<Consume> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..300)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            s.consume(&id, 2_000).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut granted: Vec<u64> =
                outcomes.iter().filter_map(|o| if let Consume::Consumed { uses } = o { Some(*uses) } else { None }).collect();
            granted.sort_unstable();
            assert_eq!(granted, (1..=10).collect::<Vec<_>>(), "round {round}");
            assert_eq!(outcomes.iter().filter(|o| **o == Consume::UsedUp).count(), 290, "round {round}");
            assert_eq!(s.link(&id).unwrap().unwrap().uses, 10);
        }
    }

    #[test]
    fn revoke_one_and_many() {
        let s = store();
        let mut links = vec![
            object_link("a", "photos", "2024/a"),
            object_link("b", "photos", "2024/b"),
            object_link("c", "photos", "2025/c"),
            object_link("d", "docs", "2024/d"),
            object_link("e", "x", "y"),
            object_link("f", "x", "z"),
        ];
        links[0].group = Some("g".into());
        links[4].group = Some("g".into());
        links[4].target = LinkTarget::Upstream { name: "photos".into(), path: "2024/e".into() };
        links[5].issuer = LinkIssuer::Role("ops".into());
        for l in &links {
            s.create_link(l).unwrap();
        }

        assert!(s.revoke("a", 5).unwrap());
        assert!(!s.revoke("a", 6).unwrap(), "already revoked");
        assert!(!s.revoke("nope", 6).unwrap());
        assert_eq!(s.link("a").unwrap().unwrap().revoked_ms, Some(5));

        assert_eq!(s.revoke_matching(&LinkFilter::default(), 7).unwrap(), 0, "an empty filter revokes nothing");
        // Group g: a (already revoked, not counted) and e.
        assert_eq!(s.revoke_matching(&LinkFilter { group: Some("g".into()), ..Default::default() }, 7).unwrap(), 1);
        assert_eq!(s.link("a").unwrap().unwrap().revoked_ms, Some(5), "first revocation time kept");
        assert_eq!(s.link("e").unwrap().unwrap().revoked_ms, Some(7));
        // Bucket + prefix: only object targets (not upstream e, even if named like the bucket).
        let photos_2024 = LinkFilter { bucket: Some("photos".into()), prefix: Some("2024/".into()), ..Default::default() };
        assert_eq!(s.revoke_matching(&photos_2024, 8).unwrap(), 1, "b only; a already revoked");
        assert_eq!(s.link("c").unwrap().unwrap().revoked_ms, None);
        assert_eq!(s.link("d").unwrap().unwrap().revoked_ms, None);
        // Issuer.
        assert_eq!(s.revoke_matching(&LinkFilter { issuer: Some("role:ops".into()), ..Default::default() }, 9).unwrap(), 1);
        assert_eq!(s.revoke_matching(&LinkFilter { issuer: Some("user:alice".into()), ..Default::default() }, 10).unwrap(), 2);
        assert!(s.list_links(&LinkFilter::default(), 100).unwrap().iter().all(|l| l.revoked_ms.is_some()));
    }

    #[test]
    fn cut_group_expiry_only_shortens() {
        let s = store();
        let mut a = object_link("a", "b", "k");
        a.group = Some("g".into());
        a.expires_ms = 50_000;
        let mut b = object_link("b", "b", "k");
        b.group = Some("g".into());
        b.expires_ms = 200_000;
        let c = object_link("c", "b", "k");
        for l in [&a, &b, &c] {
            s.create_link(l).unwrap();
        }
        assert_eq!(s.cut_group_expiry("g", 100_000).unwrap(), 1);
        assert_eq!(s.link("a").unwrap().unwrap().expires_ms, 50_000);
        assert_eq!(s.link("b").unwrap().unwrap().expires_ms, 100_000);
        assert_eq!(s.link("c").unwrap().unwrap().expires_ms, 100_000, "other links untouched");
        assert_eq!(s.cut_group_expiry("g", 10).unwrap(), 2);
        assert_eq!(s.consume("b", 2_000).unwrap(), Consume::Expired);
        assert_eq!(s.cut_group_expiry("none", 10).unwrap(), 0);
    }

    #[test]
    fn audit_append_and_read_in_order() {
        let s = store();
        let rec = |link: &str, at_ms, outcome: &str| AuditRecord {
            link_id: link.into(),
            at_ms,
            client_ip: "2001:db8::1".into(),
            user_agent: if at_ms % 2 == 0 { Some("curl/8".into()) } else { None },
            method: "GET".into(),
            status: if outcome == "granted" { 200 } else { 410 },
            outcome: outcome.into(),
            bytes: u64::from(at_ms as u32) * 1000,
        };
        s.append_audit(&rec("l", 10, "granted")).unwrap();
        s.append_audit(&rec("other", 11, "granted")).unwrap();
        s.append_audit(&rec("l", 12, "granted")).unwrap();
        s.append_audit(&rec("l", 12, "exhausted")).unwrap();
        s.append_audit(&rec("l", 13, "expired")).unwrap();
        let all = s.audit("l", 100).unwrap();
        assert_eq!(all, vec![rec("l", 10, "granted"), rec("l", 12, "granted"), rec("l", 12, "exhausted"), rec("l", 13, "expired")]);
        // A limit keeps the latest attempts, still oldest first.
        assert_eq!(s.audit("l", 2).unwrap(), vec![rec("l", 12, "exhausted"), rec("l", 13, "expired")]);
        assert!(s.audit("none", 10).unwrap().is_empty());
    }

    #[test]
    fn purge_removes_long_dead_links_and_old_audit() {
        let s = store();
        const DAY: i64 = 86_400_000;
        let now = 100 * DAY;
        let mk = |id: &str, f: &dyn Fn(&mut LinkRecord)| {
            let mut l = object_link(id, "b", "k");
            l.created_ms = 10 * DAY;
            l.expires_ms = 200 * DAY;
            f(&mut l);
            s.create_link(&l).unwrap();
        };
        mk("live", &|_| {});
        mk("expired-long-ago", &|l| l.expires_ms = 50 * DAY);
        mk("expired-recently", &|l| l.expires_ms = 99 * DAY);
        mk("revoked-long-ago", &|l| l.revoked_ms = Some(50 * DAY));
        mk("revoked-recently", &|l| l.revoked_ms = Some(99 * DAY));
        mk("unused-zero-uses", &|l| l.max_uses = Some(0));
        mk("used-up-recently", &|l| l.max_uses = Some(1));
        mk("partly-used", &|l| l.max_uses = Some(2));
        assert_eq!(s.consume("used-up-recently", 99 * DAY).unwrap(), Consume::Consumed { uses: 1 });
        assert_eq!(s.consume("partly-used", 20 * DAY).unwrap(), Consume::Consumed { uses: 1 });
        for (at, id) in [(10 * DAY, "a"), (60 * DAY, "b"), (95 * DAY, "c")] {
            let rec = AuditRecord {
                link_id: id.into(),
                at_ms: at,
                client_ip: "192.0.2.1".into(),
                user_agent: None,
                method: "GET".into(),
                status: 200,
                outcome: "granted".into(),
                bytes: 1,
            };
            s.append_audit(&rec).unwrap();
        }

        assert_eq!(s.purge(now, 7 * DAY, 30 * DAY).unwrap(), (3, 2));
        let mut left = ids(&s.list_links(&LinkFilter::default(), 100).unwrap()).into_iter().map(str::to_owned).collect::<Vec<_>>();
        left.sort();
        assert_eq!(left, ["expired-recently", "live", "partly-used", "revoked-recently", "used-up-recently"]);
        assert_eq!(s.audit("c", 10).unwrap().len(), 1);
        assert_eq!(s.purge(now, 7 * DAY, 30 * DAY).unwrap(), (0, 0), "idempotent");
    }
}
