//! [`LinkStore`] on SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::{Sqlite, corrupt_value, to_i64, to_u64};
use crate::store::StoreResult;
use crate::store::links::{
    Activity, AuditId, AuditRecord, AuditSettle, Consume, Delivery, LinkFilter, LinkIssuer, LinkMethod, LinkRecord, LinkStore, LinkTarget,
    UseCount,
};

/// The `links` columns `link_from_row` reads, in order. Macros rather than
/// constants so statements are `concat!`ed at compile time, not formatted on
/// every call (the hot ones run once or twice per redemption).
macro_rules! link_columns {
    () => {
        "id, token_hash, issuer, target_kind, bucket, key, upstream, path, method, delivery, created_ms, expires_ms, \
         not_before_ms, max_uses, uses, allowed_ips, filename, password_hash, grp, revoked_ms"
    };
}
const LINK_COLUMNS: &str = link_columns!();

/// The `link_audit` columns of an [`AuditRecord`], in order.
macro_rules! audit_columns {
    () => {
        "link_id, at_ms, client_ip, user_agent, method, status, outcome, bytes"
    };
}

fn link_from_row(r: &Row<'_>) -> rusqlite::Result<LinkRecord> {
    let issuer: String = r.get(2)?;
    let issuer = LinkIssuer::parse(&issuer).ok_or_else(|| corrupt_value(2, format!("invalid link issuer {issuer:?}")))?;
    let kind: String = r.get(3)?;
    let target = match kind.as_str() {
        "object" => LinkTarget::Object { bucket: r.get(4)?, key: r.get(5)? },
        "upstream" => LinkTarget::Upstream { name: r.get(6)?, path: r.get(7)? },
        other => return Err(corrupt_value(3, format!("invalid link target kind {other:?}"))),
    };
    let method: String = r.get(8)?;
    let method = LinkMethod::parse(&method).ok_or_else(|| corrupt_value(8, format!("invalid link method {method:?}")))?;
    let delivery: String = r.get(9)?;
    let delivery = Delivery::parse(&delivery).ok_or_else(|| corrupt_value(9, format!("invalid link delivery {delivery:?}")))?;
    // An unreadable IP restriction must not turn into "anywhere": fail the read.
    let ips: String = r.get(15)?;
    let allowed_ips = serde_json::from_str(&ips).map_err(|e| corrupt_value(15, format!("allowed_ips: {e}")))?;
    Ok(LinkRecord {
        id: r.get(0)?,
        token_hash: r.get(1)?,
        issuer,
        target,
        method,
        delivery,
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

const INSERT_AUDIT: &str = concat!("INSERT INTO link_audit (", audit_columns!(), ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");

fn insert_audit(c: &Connection, rec: &AuditRecord) -> rusqlite::Result<AuditId> {
    execute_insert_audit(&mut c.prepare_cached(INSERT_AUDIT)?, rec)?;
    Ok(AuditId(c.last_insert_rowid()))
}

/// Appends rows with one statement (looked up in the cache once, not per row).
fn insert_audits(c: &Connection, rows: &[AuditRecord]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = c.prepare_cached(INSERT_AUDIT)?;
    rows.iter().try_for_each(|r| execute_insert_audit(&mut stmt, r))
}

fn execute_insert_audit(stmt: &mut rusqlite::CachedStatement<'_>, rec: &AuditRecord) -> rusqlite::Result<()> {
    stmt.execute(params![rec.link_id, rec.at_ms, rec.client_ip, rec.user_agent, rec.method, rec.status, rec.outcome, to_i64(rec.bytes)])?;
    Ok(())
}

/// Adds uses to links without `max_uses`; unknown links are skipped.
fn add_uses(c: &Connection, uses: &[UseCount]) -> rusqlite::Result<()> {
    let mut stmt =
        c.prepare_cached("UPDATE links SET uses = uses + ?2, last_used_ms = MAX(COALESCE(last_used_ms, 0), ?3) WHERE id = ?1")?;
    for u in uses {
        stmt.execute(params![u.link_id, to_i64(u.count), u.last_ms])?;
    }
    Ok(())
}

/// A use taken for a caller that stopped waiting: its row says so. Runs after
/// the use's commit, in a transaction of its own (rare: the client left during
/// the few milliseconds of the commit).
fn settle_abandoned(c: &Connection, taken: Consume) {
    let Consume::Consumed { audit, .. } = taken else { return };
    let abandoned = AuditSettle { id: audit, status: 499, outcome: "abandoned".into(), bytes: 0 };
    if let Err(e) = settle(c, &abandoned) {
        tracing::warn!(error = %e, "could not settle the audit row of an abandoned link use");
    }
}

fn settle(c: &Connection, s: &AuditSettle) -> rusqlite::Result<()> {
    c.prepare_cached("UPDATE link_audit SET status = ?2, outcome = ?3, bytes = ?4 WHERE rowid = ?1")?.execute(params![
        s.id.0,
        s.status,
        s.outcome,
        to_i64(s.bytes)
    ])?;
    Ok(())
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

/// Why a use could not be taken, read in the same transaction right after the
/// failed `UPDATE`.
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

fn take_use(c: &Connection, id: &str, now_ms: i64, audit: &AuditRecord) -> rusqlite::Result<Consume> {
    let taken: Option<i64> = c
        .prepare_cached(
            "UPDATE links SET uses = uses + 1, last_used_ms = ?2
             WHERE id = ?1 AND revoked_ms IS NULL AND expires_ms > ?2 AND (max_uses IS NULL OR uses < max_uses)
             RETURNING uses",
        )?
        .query_row(params![id, now_ms], |r| r.get(0))
        .optional()?;
    match taken {
        Some(uses) => Ok(Consume::Consumed { uses: to_u64(uses), audit: insert_audit(c, audit)? }),
        None => why_not(c, id, now_ms),
    }
}

fn limit_i64(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl LinkStore for Sqlite {
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let ips = serde_json::to_string(&link.allowed_ips).unwrap_or_else(|_| "[]".into());
        let link = link.clone();
        self.write("create link", move |c| {
            let (kind, bucket, key, upstream, path) = match &link.target {
                LinkTarget::Object { bucket, key } => ("object", Some(bucket), Some(key), None, None),
                LinkTarget::Upstream { name, path } => ("upstream", None, None, Some(name), Some(path)),
            };
            c.prepare_cached(concat!(
                "INSERT INTO links (",
                link_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
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
                link.method.as_str(),
                link.delivery.as_str(),
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
        .await
    }

    async fn link_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<LinkRecord>> {
        let found = self.read("read link", |c| {
            c.prepare_cached(concat!("SELECT ", link_columns!(), " FROM links WHERE token_hash = ?1"))?
                .query_row(params![token_hash], link_from_row)
                .optional()
        })?;
        // The index found it; confirm in constant time all the same.
        Ok(found.filter(|l| crate::auth::secrets::ct_eq(&l.token_hash, token_hash)))
    }

    async fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>> {
        self.read("read link", |c| {
            c.prepare_cached(concat!("SELECT ", link_columns!(), " FROM links WHERE id = ?1"))?
                .query_row(params![id], link_from_row)
                .optional()
        })
    }

    async fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>> {
        let (conds, mut values) = filter_sql(filter, 1);
        let cond = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        let sql = format!("SELECT {LINK_COLUMNS} FROM links {cond} ORDER BY created_ms DESC, rowid DESC LIMIT ?{}", values.len() + 1);
        values.push(Value::Integer(limit_i64(limit)));
        self.read("list links", |c| c.prepare_cached(&sql)?.query_map(params_from_iter(values), link_from_row)?.collect())
    }

    async fn consume(&self, id: &str, now_ms: i64, audit: AuditRecord) -> StoreResult<Consume> {
        let id = id.to_owned();
        self.committer.run("take a link use", move |c| take_use(c, &id, now_ms, &audit), settle_abandoned).await
    }

    async fn refund(&self, id: &str, s: &AuditSettle) -> StoreResult<()> {
        let (id, s) = (id.to_owned(), s.clone());
        self.write("give a link use back", move |c| {
            c.prepare_cached("UPDATE links SET uses = uses - 1 WHERE id = ?1 AND uses > 0")?.execute(params![id])?;
            settle(c, &s)
        })
        .await
    }

    async fn revoke(&self, id: &str, now_ms: i64) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write("revoke link", move |c| {
            Ok(c.prepare_cached("UPDATE links SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL")?.execute(params![id, now_ms])?
                == 1)
        })
        .await
    }

    async fn revoke_matching(&self, filter: &LinkFilter, now_ms: i64) -> StoreResult<usize> {
        if filter.is_empty() {
            return Ok(0);
        }
        let (conds, mut values) = filter_sql(filter, 2);
        let sql = format!("UPDATE links SET revoked_ms = ?1 WHERE revoked_ms IS NULL AND {}", conds.join(" AND "));
        values.insert(0, Value::Integer(now_ms));
        self.write("revoke links", move |c| c.prepare_cached(&sql)?.execute(params_from_iter(&values))).await
    }

    async fn cut_group_expiry(&self, group: &str, expires_ms: i64) -> StoreResult<usize> {
        let group = group.to_owned();
        self.write("shorten a group of links", move |c| {
            c.prepare_cached("UPDATE links SET expires_ms = ?2 WHERE grp = ?1 AND expires_ms > ?2")?.execute(params![group, expires_ms])
        })
        .await
    }

    async fn count_uses(&self, uses: &[UseCount]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let uses = uses.to_vec();
        self.write("count link uses", move |c| add_uses(c, &uses)).await
    }

    async fn append_audit(&self, rows: &[AuditRecord]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        self.write("append link audit", move |c| insert_audits(c, &rows)).await
    }

    async fn settle_audit(&self, settles: &[AuditSettle]) -> StoreResult<()> {
        if settles.is_empty() {
            return Ok(());
        }
        let settles = settles.to_vec();
        self.write("settle link audit", move |c| settles.iter().try_for_each(|s| settle(c, s))).await
    }

    async fn record_activity(&self, activity: Arc<Activity>) -> StoreResult<()> {
        if activity.is_empty() {
            return Ok(());
        }
        // One job, so one savepoint: a failure anywhere leaves nothing written.
        self.write("record link activity", move |c| {
            add_uses(c, &activity.uses)?;
            insert_audits(c, &activity.rows)?;
            activity.settles.iter().try_for_each(|s| settle(c, s))
        })
        .await
    }

    async fn audit(&self, link_id: &str, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        let mut rows = self.read("read link audit", |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                audit_columns!(),
                " FROM link_audit WHERE link_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT ?2"
            ))?
            .query_map(params![link_id, limit_i64(limit)], audit_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.reverse();
        Ok(rows)
    }

    async fn purge(&self, now_ms: i64, link_retention_ms: i64, audit_retention_ms: i64) -> StoreResult<(usize, usize)> {
        let link_cutoff = now_ms.saturating_sub(link_retention_ms);
        let audit_cutoff = now_ms.saturating_sub(audit_retention_ms);
        self.write("purge links", move |c| {
            let links = c
                .prepare_cached(
                    "DELETE FROM links WHERE expires_ms < ?1
                    OR (revoked_ms IS NOT NULL AND revoked_ms < ?1)
                    OR (max_uses IS NOT NULL AND uses >= max_uses AND COALESCE(last_used_ms, created_ms) < ?1)",
                )?
                .execute(params![link_cutoff])?;
            let audit = c.prepare_cached("DELETE FROM link_audit WHERE at_ms < ?1")?.execute(params![audit_cutoff])?;
            Ok((links, audit))
        })
        .await
    }
}
