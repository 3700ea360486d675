-- 0001: the schema as first shipped. Every statement is IF NOT EXISTS, so a
-- database created before migrations were numbered adopts this version as is.

CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    cors_xml TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    file_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    content_type TEXT,
    headers TEXT NOT NULL,
    checksum_name TEXT,
    checksum_value TEXT,
    parts_count INTEGER,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    template TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    checksum_name TEXT,
    checksum_value TEXT,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;

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
