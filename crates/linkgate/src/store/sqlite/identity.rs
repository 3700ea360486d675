//! [`IdentityStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Sqlite, corrupt_value, to_i64, to_u64};
use crate::store::StoreResult;
use crate::store::identity::{AddKey, IdentityStore, KeyRecord, NamedPolicy, Principal, RoleRecord, SessionRecord, UserRecord};

fn policies(c: &Connection, table: &str, owner_col: &str, owner: &str) -> rusqlite::Result<Vec<NamedPolicy>> {
    let mut stmt = c.prepare_cached(&format!("SELECT name, document FROM {table} WHERE {owner_col} = ?1 ORDER BY name"))?;
    stmt.query_map(params![owner], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        access_key_id: r.get(0)?,
        user: r.get(1)?,
        secret_sealed: r.get(2)?,
        active: r.get::<_, i64>(3)? != 0,
        created_ms: r.get(4)?,
    })
}

fn role_from_row(c: &Connection, r: &Row<'_>) -> rusqlite::Result<RoleRecord> {
    let name: String = r.get(0)?;
    let trusted: String = r.get(3)?;
    Ok(RoleRecord {
        policies: policies(c, "role_policies", "role", &name)?,
        name,
        created_ms: r.get(1)?,
        max_session_secs: to_u64(r.get(2)?),
        trusted_users: serde_json::from_str(&trusted).map_err(|e| corrupt_value(3, format!("trusted users: {e}")))?,
        revoked_before_ms: r.get(4)?,
    })
}

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    let user: Option<String> = r.get(3)?;
    let role: Option<String> = r.get(4)?;
    let session_name: Option<String> = r.get(5)?;
    let source_user: String = r.get(6)?;
    let kind: Option<String> = r.get(9)?;
    let principal = match (user, role) {
        _ if kind.as_deref() == Some("root") => Principal::Root,
        (Some(u), _) => Principal::User(u),
        (None, Some(role)) => Principal::Role { role, session_name: session_name.unwrap_or_default(), source_user },
        (None, None) => Principal::User(source_user),
    };
    Ok(SessionRecord {
        access_key_id: r.get(0)?,
        secret_sealed: r.get(1)?,
        token_hash: r.get(2)?,
        principal,
        created_ms: r.get(7)?,
        expires_ms: r.get(8)?,
    })
}

/// Column lists as macros, so statements are `concat!`ed at compile time.
macro_rules! role_columns {
    () => {
        "name, created_ms, max_session_secs, trusted_users, revoked_before_ms"
    };
}
macro_rules! key_columns {
    () => {
        "access_key_id, user, secret_sealed, active, created_ms"
    };
}

fn user_exists(c: &Connection, user: &str) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT 1 FROM users WHERE name = ?1")?.exists(params![user])
}

#[async_trait]
impl IdentityStore for Sqlite {
    async fn create_user(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write("create user", move |c| {
            Ok(c.prepare_cached("INSERT OR IGNORE INTO users (name, created_ms) VALUES (?1, ?2)")?.execute(params![name, now_ms])? == 1)
        })
        .await
    }

    async fn delete_user(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write("delete user", move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE source_user = ?1")?.execute(params![name])?;
            Ok(c.prepare_cached("DELETE FROM users WHERE name = ?1")?.execute(params![name])? == 1)
        })
        .await
    }

    async fn user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.read("read user", |c| {
            let created: Option<i64> =
                c.prepare_cached("SELECT created_ms FROM users WHERE name = ?1")?.query_row(params![name], |r| r.get(0)).optional()?;
            created
                .map(|created_ms| {
                    Ok(UserRecord { name: name.to_owned(), created_ms, policies: policies(c, "user_policies", "user", name)? })
                })
                .transpose()
        })
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read("list users", |c| {
            let rows: Vec<(String, i64)> = c
                .prepare_cached("SELECT name, created_ms FROM users ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(name, created_ms)| Ok(UserRecord { policies: policies(c, "user_policies", "user", &name)?, name, created_ms }))
                .collect()
        })
    }

    async fn put_user_policy(&self, user: &str, name: &str, document: &str) -> StoreResult<bool> {
        let (user, name, document) = (user.to_owned(), name.to_owned(), document.to_owned());
        self.write("put user policy", move |c| {
            if !user_exists(c, &user)? {
                return Ok(false);
            }
            c.prepare_cached("INSERT OR REPLACE INTO user_policies (user, name, document) VALUES (?1, ?2, ?3)")?
                .execute(params![user, name, document])?;
            Ok(true)
        })
        .await
    }

    async fn delete_user_policy(&self, user: &str, name: &str) -> StoreResult<bool> {
        let (user, name) = (user.to_owned(), name.to_owned());
        self.write("delete user policy", move |c| {
            Ok(c.prepare_cached("DELETE FROM user_policies WHERE user = ?1 AND name = ?2")?.execute(params![user, name])? == 1)
        })
        .await
    }

    async fn add_key(&self, key: &KeyRecord) -> StoreResult<AddKey> {
        let key = key.clone();
        self.write("add access key", move |c| {
            if !user_exists(c, &key.user)? {
                return Ok(AddKey::NoUser);
            }
            let count: i64 =
                c.prepare_cached("SELECT COUNT(*) FROM access_keys WHERE user = ?1")?.query_row(params![key.user], |r| r.get(0))?;
            if count >= 2 {
                return Ok(AddKey::LimitExceeded);
            }
            c.prepare_cached(concat!("INSERT INTO access_keys (", key_columns!(), ") VALUES (?1, ?2, ?3, ?4, ?5)"))?.execute(params![
                key.access_key_id,
                key.user,
                key.secret_sealed,
                i64::from(key.active),
                key.created_ms
            ])?;
            Ok(AddKey::Added)
        })
        .await
    }

    async fn key(&self, access_key_id: &str) -> StoreResult<Option<KeyRecord>> {
        self.read("read access key", |c| {
            c.prepare_cached(concat!("SELECT ", key_columns!(), " FROM access_keys WHERE access_key_id = ?1"))?
                .query_row(params![access_key_id], key_from_row)
                .optional()
        })
    }

    async fn list_keys(&self, user: &str) -> StoreResult<Vec<KeyRecord>> {
        self.read("list access keys", |c| {
            c.prepare_cached(concat!("SELECT ", key_columns!(), " FROM access_keys WHERE user = ?1 ORDER BY created_ms, access_key_id"))?
                .query_map(params![user], key_from_row)?
                .collect()
        })
    }

    async fn set_key_active(&self, access_key_id: &str, active: bool) -> StoreResult<bool> {
        let id = access_key_id.to_owned();
        self.write("update access key", move |c| {
            Ok(c.prepare_cached("UPDATE access_keys SET active = ?2 WHERE access_key_id = ?1")?.execute(params![id, i64::from(active)])?
                == 1)
        })
        .await
    }

    async fn delete_key(&self, access_key_id: &str) -> StoreResult<bool> {
        let id = access_key_id.to_owned();
        self.write("delete access key", move |c| {
            Ok(c.prepare_cached("DELETE FROM access_keys WHERE access_key_id = ?1")?.execute(params![id])? == 1)
        })
        .await
    }

    async fn create_role(&self, role: &RoleRecord) -> StoreResult<bool> {
        let trusted = serde_json::to_string(&role.trusted_users).unwrap_or_else(|_| "[]".into());
        let role = role.clone();
        self.write("create role", move |c| {
            let n = c
                .prepare_cached(concat!("INSERT OR IGNORE INTO roles (", role_columns!(), ") VALUES (?1, ?2, ?3, ?4, ?5)"))?
                .execute(params![role.name, role.created_ms, to_i64(role.max_session_secs), trusted, role.revoked_before_ms])?;
            if n == 1 {
                for (name, doc) in &role.policies {
                    c.prepare_cached("INSERT OR REPLACE INTO role_policies (role, name, document) VALUES (?1, ?2, ?3)")?
                        .execute(params![role.name, name, doc])?;
                }
            }
            Ok(n == 1)
        })
        .await
    }

    async fn role(&self, name: &str) -> StoreResult<Option<RoleRecord>> {
        self.read("read role", |c| {
            c.prepare_cached(concat!("SELECT ", role_columns!(), " FROM roles WHERE name = ?1"))?
                .query_row(params![name], |r| role_from_row(c, r))
                .optional()
        })
    }

    async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>> {
        self.read("list roles", |c| {
            let mut stmt = c.prepare_cached(concat!("SELECT ", role_columns!(), " FROM roles ORDER BY name"))?;
            stmt.query_map([], |r| role_from_row(c, r))?.collect()
        })
    }

    async fn delete_role(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write("delete role", move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE principal_role = ?1")?.execute(params![name])?;
            Ok(c.prepare_cached("DELETE FROM roles WHERE name = ?1")?.execute(params![name])? == 1)
        })
        .await
    }

    async fn put_role_policy(&self, role: &str, name: &str, document: &str) -> StoreResult<bool> {
        let (role, name, document) = (role.to_owned(), name.to_owned(), document.to_owned());
        self.write("put role policy", move |c| {
            if !c.prepare_cached("SELECT 1 FROM roles WHERE name = ?1")?.exists(params![role])? {
                return Ok(false);
            }
            c.prepare_cached("INSERT OR REPLACE INTO role_policies (role, name, document) VALUES (?1, ?2, ?3)")?
                .execute(params![role, name, document])?;
            Ok(true)
        })
        .await
    }

    async fn revoke_role_sessions(&self, role: &str, before_ms: i64) -> StoreResult<bool> {
        let role = role.to_owned();
        self.write("revoke role sessions", move |c| {
            Ok(c.prepare_cached("UPDATE roles SET revoked_before_ms = ?2 WHERE name = ?1")?.execute(params![role, before_ms])? == 1)
        })
        .await
    }

    async fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let s = s.clone();
        self.write("create session", move |c| {
            let kind = (s.principal == Principal::Root).then_some("root");
            let (user, role, session_name, source) = match &s.principal {
                Principal::Root => (None, None, None, ""),
                Principal::User(u) => (Some(u.as_str()), None, None, u.as_str()),
                Principal::Role { role, session_name, source_user } => {
                    (None, Some(role.as_str()), Some(session_name.as_str()), source_user.as_str())
                }
            };
            c.prepare_cached(
                "INSERT INTO sessions (access_key_id, secret_sealed, token_hash, principal_user, principal_role, session_name, source_user, created_ms, expires_ms, principal_kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![s.access_key_id, s.secret_sealed, s.token_hash, user, role, session_name, source, s.created_ms, s.expires_ms, kind])?;
            Ok(())
        })
        .await
    }

    async fn session(&self, access_key_id: &str) -> StoreResult<Option<SessionRecord>> {
        self.read("read session", |c| {
            c.prepare_cached(
                "SELECT access_key_id, secret_sealed, token_hash, principal_user, principal_role, session_name, source_user, created_ms, expires_ms,
                   principal_kind
                 FROM sessions WHERE access_key_id = ?1",
            )?
            .query_row(params![access_key_id], session_from_row)
            .optional()
        })
    }

    async fn purge_sessions(&self, now_ms: i64) -> StoreResult<usize> {
        self.write("purge sessions", move |c| c.prepare_cached("DELETE FROM sessions WHERE expires_ms < ?1")?.execute(params![now_ms]))
            .await
    }
}
