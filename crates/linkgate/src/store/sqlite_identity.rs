//! [`IdentityStore`] on the embedded SQLite database.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreResult;
use super::identity::{AddKey, IdentityStore, KeyRecord, NamedPolicy, RoleRecord, SessionPrincipal, SessionRecord, UserRecord};
use super::sqlite::SqliteStore;

/// Identity tables, created with the rest of the schema.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_policies (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (user, name)
);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    active INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roles (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    max_session_secs INTEGER NOT NULL,
    trusted_users TEXT NOT NULL,
    revoked_before_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS role_policies (
    role TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (role, name)
);
CREATE TABLE IF NOT EXISTS sessions (
    access_key_id TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    principal_user TEXT,
    principal_role TEXT,
    session_name TEXT,
    source_user TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
"#;

fn policies(c: &Connection, table: &str, owner_col: &str, owner: &str) -> rusqlite::Result<Vec<NamedPolicy>> {
    let mut stmt = c.prepare_cached(&format!("SELECT name, document FROM {table} WHERE {owner_col} = ?1 ORDER BY name"))?;
    stmt.query_map(params![owner], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        access_key_id: r.get(0)?,
        user: r.get(1)?,
        secret_sealed: r.get(2)?,
        active: r.get::<_, i64>(3)? != 0,
        created_ms: r.get(4)?,
    })
}

fn role_from_row(c: &Connection, r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleRecord> {
    let name: String = r.get(0)?;
    let trusted: String = r.get(3)?;
    Ok(RoleRecord {
        policies: policies(c, "role_policies", "role", &name)?,
        name,
        created_ms: r.get(1)?,
        max_session_secs: r.get::<_, i64>(2)? as u64,
        trusted_users: serde_json::from_str(&trusted).unwrap_or_default(),
        revoked_before_ms: r.get(4)?,
    })
}

const ROLE_COLUMNS: &str = "name, created_ms, max_session_secs, trusted_users, revoked_before_ms";

impl IdentityStore for SqliteStore {
    fn create_user(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("INSERT OR IGNORE INTO users (name, created_ms) VALUES (?1, ?2)", params![name, now_ms])? == 1))
    }

    fn delete_user(&self, name: &str) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM sessions WHERE source_user = ?1", params![name])?;
            let n = tx.execute("DELETE FROM users WHERE name = ?1", params![name])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.read(|c| {
            let created: Option<i64> =
                c.prepare_cached("SELECT created_ms FROM users WHERE name = ?1")?.query_row(params![name], |r| r.get(0)).optional()?;
            match created {
                None => Ok(None),
                Some(created_ms) => {
                    Ok(Some(UserRecord { name: name.to_owned(), created_ms, policies: policies(c, "user_policies", "user", name)? }))
                }
            }
        })
    }

    fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read(|c| {
            let rows: Vec<(String, i64)> = {
                let mut stmt = c.prepare_cached("SELECT name, created_ms FROM users ORDER BY name")?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
            };
            rows.into_iter()
                .map(|(name, created_ms)| Ok(UserRecord { policies: policies(c, "user_policies", "user", &name)?, name, created_ms }))
                .collect()
        })
    }

    fn put_user_policy(&self, user: &str, name: &str, document: &str) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM users WHERE name = ?1")?.exists(params![user])? {
                return Ok(false);
            }
            tx.execute("INSERT OR REPLACE INTO user_policies (user, name, document) VALUES (?1, ?2, ?3)", params![user, name, document])?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn delete_user_policy(&self, user: &str, name: &str) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("DELETE FROM user_policies WHERE user = ?1 AND name = ?2", params![user, name])? == 1))
    }

    fn add_key(&self, key: &KeyRecord) -> StoreResult<AddKey> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM users WHERE name = ?1")?.exists(params![key.user])? {
                return Ok(AddKey::NoUser);
            }
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM access_keys WHERE user = ?1", params![key.user], |r| r.get(0))?;
            if count >= 2 {
                return Ok(AddKey::LimitExceeded);
            }
            tx.execute(
                "INSERT INTO access_keys (access_key_id, user, secret_sealed, active, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.access_key_id, key.user, key.secret_sealed, i64::from(key.active), key.created_ms],
            )?;
            tx.commit()?;
            Ok(AddKey::Added)
        })
    }

    fn key(&self, access_key_id: &str) -> StoreResult<Option<KeyRecord>> {
        self.read(|c| {
            c.prepare_cached("SELECT access_key_id, user, secret_sealed, active, created_ms FROM access_keys WHERE access_key_id = ?1")?
                .query_row(params![access_key_id], key_from_row)
                .optional()
        })
    }

    fn list_keys(&self, user: &str) -> StoreResult<Vec<KeyRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT access_key_id, user, secret_sealed, active, created_ms FROM access_keys WHERE user = ?1 ORDER BY created_ms",
            )?;
            stmt.query_map(params![user], key_from_row)?.collect()
        })
    }

    fn set_key_active(&self, access_key_id: &str, active: bool) -> StoreResult<bool> {
        self.write(|c| {
            Ok(c.execute("UPDATE access_keys SET active = ?2 WHERE access_key_id = ?1", params![access_key_id, i64::from(active)])? == 1)
        })
    }

    fn delete_key(&self, access_key_id: &str) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("DELETE FROM access_keys WHERE access_key_id = ?1", params![access_key_id])? == 1))
    }

    fn create_role(&self, role: &RoleRecord) -> StoreResult<bool> {
        let trusted = serde_json::to_string(&role.trusted_users).unwrap_or_else(|_| "[]".into());
        self.write(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                &format!("INSERT OR IGNORE INTO roles ({ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![role.name, role.created_ms, role.max_session_secs as i64, trusted, role.revoked_before_ms],
            )?;
            if n == 1 {
                for (name, doc) in &role.policies {
                    tx.execute(
                        "INSERT OR REPLACE INTO role_policies (role, name, document) VALUES (?1, ?2, ?3)",
                        params![role.name, name, doc],
                    )?;
                }
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn role(&self, name: &str) -> StoreResult<Option<RoleRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name = ?1"))?
                .query_row(params![name], |r| role_from_row(c, r))
                .optional()
        })
    }

    fn list_roles(&self) -> StoreResult<Vec<RoleRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {ROLE_COLUMNS} FROM roles ORDER BY name"))?;
            stmt.query_map([], |r| role_from_row(c, r))?.collect()
        })
    }

    fn delete_role(&self, name: &str) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM sessions WHERE principal_role = ?1", params![name])?;
            let n = tx.execute("DELETE FROM roles WHERE name = ?1", params![name])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn put_role_policy(&self, role: &str, name: &str, document: &str) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM roles WHERE name = ?1")?.exists(params![role])? {
                return Ok(false);
            }
            tx.execute("INSERT OR REPLACE INTO role_policies (role, name, document) VALUES (?1, ?2, ?3)", params![role, name, document])?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn revoke_role_sessions(&self, role: &str, before_ms: i64) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("UPDATE roles SET revoked_before_ms = ?2 WHERE name = ?1", params![role, before_ms])? == 1))
    }

    fn create_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let (user, role, session_name, source) = match &s.principal {
            SessionPrincipal::User(u) => (Some(u.as_str()), None, None, u.as_str()),
            SessionPrincipal::Role { role, session_name, source_user } => {
                (None, Some(role.as_str()), Some(session_name.as_str()), source_user.as_str())
            }
        };
        self.write(|c| {
            c.execute(
                "INSERT INTO sessions (access_key_id, secret_sealed, token_hash, principal_user, principal_role, session_name, source_user, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![s.access_key_id, s.secret_sealed, s.token_hash, user, role, session_name, source, s.created_ms, s.expires_ms],
            )?;
            Ok(())
        })
    }

    fn session(&self, access_key_id: &str) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT access_key_id, secret_sealed, token_hash, principal_user, principal_role, session_name, source_user, created_ms, expires_ms
                 FROM sessions WHERE access_key_id = ?1",
            )?
            .query_row(params![access_key_id], |r| {
                let user: Option<String> = r.get(3)?;
                let role: Option<String> = r.get(4)?;
                let session_name: Option<String> = r.get(5)?;
                let source_user: String = r.get(6)?;
                let principal = match (user, role) {
                    (Some(u), _) => SessionPrincipal::User(u),
                    (None, Some(role)) => SessionPrincipal::Role { role, session_name: session_name.unwrap_or_default(), source_user },
                    (None, None) => SessionPrincipal::User(source_user),
                };
                Ok(SessionRecord {
                    access_key_id: r.get(0)?,
                    secret_sealed: r.get(1)?,
                    token_hash: r.get(2)?,
                    principal,
                    created_ms: r.get(7)?,
                    expires_ms: r.get(8)?,
                })
            })
            .optional()
        })
    }

    fn purge_sessions(&self, now_ms: i64) -> StoreResult<usize> {
        self.write(|c| c.execute("DELETE FROM sessions WHERE expires_ms < ?1", params![now_ms]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("linkgate-ident-{}", crate::ids::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteStore::open(&dir.join("db")).unwrap(), dir)
    }

    #[test]
    fn users_keys_and_the_two_key_limit() {
        let (s, dir) = store();
        assert!(s.create_user("alice", 1).unwrap());
        assert!(!s.create_user("alice", 2).unwrap());
        assert!(s.put_user_policy("alice", "read", "{}").unwrap());
        assert!(!s.put_user_policy("bob", "read", "{}").unwrap());
        let key =
            |id: &str| KeyRecord { access_key_id: id.into(), user: "alice".into(), secret_sealed: "x".into(), active: true, created_ms: 1 };
        assert_eq!(s.add_key(&key("AKIA1")).unwrap(), AddKey::Added);
        assert_eq!(s.add_key(&key("AKIA2")).unwrap(), AddKey::Added);
        assert_eq!(s.add_key(&key("AKIA3")).unwrap(), AddKey::LimitExceeded);
        assert!(s.set_key_active("AKIA1", false).unwrap());
        assert!(!s.key("AKIA1").unwrap().unwrap().active);
        assert_eq!(s.user("alice").unwrap().unwrap().policies, vec![("read".to_owned(), "{}".to_owned())]);
        assert!(s.delete_user("alice").unwrap());
        assert!(s.key("AKIA2").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn roles_and_sessions() {
        let (s, dir) = store();
        let role = RoleRecord {
            name: "reader".into(),
            created_ms: 1,
            max_session_secs: 3600,
            trusted_users: vec!["alice".into()],
            policies: vec![("p".into(), "{}".into())],
            revoked_before_ms: 0,
        };
        assert!(s.create_role(&role).unwrap());
        assert_eq!(s.role("reader").unwrap().unwrap(), role);
        assert!(s.revoke_role_sessions("reader", 99).unwrap());
        assert_eq!(s.role("reader").unwrap().unwrap().revoked_before_ms, 99);
        let session = SessionRecord {
            access_key_id: "ASIA1".into(),
            secret_sealed: "x".into(),
            token_hash: "h".into(),
            principal: SessionPrincipal::Role { role: "reader".into(), session_name: "s".into(), source_user: "alice".into() },
            created_ms: 5,
            expires_ms: 10,
        };
        s.create_session(&session).unwrap();
        assert_eq!(s.session("ASIA1").unwrap().unwrap(), session);
        assert_eq!(s.purge_sessions(11).unwrap(), 1);
        assert!(s.session("ASIA1").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
