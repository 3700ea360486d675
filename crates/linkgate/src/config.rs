//! Configuration: `linkgate.toml`, overridden by `LINKGATE_*` environment variables.
//!
//! Every key has a default, so `linkgate serve` with no file runs the embedded
//! setup. Nested keys are reached from the environment with `__`, e.g.
//! `LINKGATE_STS__MIN_DURATION_SECONDS=2`, as the spec asks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where the database, object files and generated secrets live.
    pub data_dir: PathBuf,
    /// The region this endpoint signs and verifies for.
    pub region: String,
    /// Base URL clients use to reach this server (for links and redirects).
    pub public_url: Option<String>,
    /// Metadata store.
    pub store: StoreConfig,
    /// Object bytes.
    pub objects: ObjectsConfig,
    /// STS limits.
    pub sts: StsConfig,
    /// Broker-link limits.
    pub links: LinksConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// TLS (both or neither).
    pub tls: TlsConfig,
    /// Logging.
    pub log: LogConfig,
    /// Named upstream APIs that broker links may front.
    pub upstreams: Vec<UpstreamConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8420)),
            data_dir: PathBuf::from("./linkgate-data"),
            region: "us-east-1".into(),
            public_url: None,
            store: StoreConfig::default(),
            objects: ObjectsConfig::default(),
            sts: StsConfig::default(),
            links: LinksConfig::default(),
            limits: LimitsConfig::default(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            upstreams: Vec::new(),
        }
    }
}

/// `[store]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH`; default `<data_dir>/linkgate.db`.
    pub url: Option<String>,
}

/// `[objects]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectsConfig {
    /// `fs` (files under the data dir).
    pub backend: String,
}

impl Default for ObjectsConfig {
    fn default() -> Self {
        Self { backend: "fs".into() }
    }
}

/// `[sts]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StsConfig {
    /// Shortest session a caller may ask for (AWS: 900).
    pub min_duration_seconds: u64,
    /// Longest session (AWS: 43200).
    pub max_duration_seconds: u64,
}

impl Default for StsConfig {
    fn default() -> Self {
        Self { min_duration_seconds: 900, max_duration_seconds: 43_200 }
    }
}

/// `[links]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinksConfig {
    /// Longest broker-link lifetime, seconds (default 90 days).
    pub max_expires_in: u64,
    /// Lifetime of the presigned URL a `redirect` link hands out, seconds.
    pub redirect_ttl: u64,
    /// How long expired, used-up or revoked links are kept (for `GET …/links/{id}`)
    /// before they are purged, seconds (default 30 days).
    pub retention_secs: u64,
    /// How long audit rows are kept, seconds (default 365 days).
    pub audit_retention_secs: u64,
}

impl Default for LinksConfig {
    fn default() -> Self {
        Self { max_expires_in: 90 * 86_400, redirect_ttl: 60, retention_secs: 30 * 86_400, audit_retention_secs: 365 * 86_400 }
    }
}

/// `[limits]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest single PUT / POST upload (S3: 5 GiB).
    pub max_object_size: u64,
    /// How far in the future a presigned X-Amz-Date may be, seconds.
    pub presign_future_tolerance_secs: i64,
    /// Header-auth clock skew allowed, seconds (S3: 900).
    pub max_clock_skew_secs: i64,
    /// Link redemptions (`/l/…`) one client address may make per second, on
    /// average; beyond it (and the burst) the answer is 429. 0 turns the limit off.
    pub link_requests_per_second: u32,
    /// How many link redemptions one client address may make at once before
    /// [`Self::link_requests_per_second`] applies.
    pub link_burst: u32,
    /// Wrong passwords one client address may send to one link within
    /// [`Self::password_ban_secs`] before it is banned from that link (429).
    pub password_attempts: u32,
    /// The brute-force window and ban, seconds.
    pub password_ban_secs: u64,
    /// Most connections open at once. At the cap, an idle keep-alive connection is
    /// closed to make room; if none is idle, the new connection is answered 503
    /// and closed, so a flood of sockets never locks every client out.
    pub max_connections: usize,
    /// A connection with no request in flight that sends nothing for this long is
    /// closed (keep-alive and freshly opened sockets alike), seconds.
    pub idle_timeout_secs: u64,
    /// Longest time from the first byte of a request head to its end, seconds:
    /// a head sent a byte at a time is cut off (slowloris).
    pub header_timeout_secs: u64,
    /// Longest wait for the next byte of a request body a handler is reading,
    /// seconds; beyond it the request fails with S3's 400 `RequestTimeout`.
    pub body_timeout_secs: u64,
    /// Longest wait for a client to accept more response bytes, seconds; beyond it
    /// the connection is closed. A slow reader is fine; a stalled one is not.
    pub send_timeout_secs: u64,
    /// Largest request head (request line and headers), bytes, as S3: beyond it
    /// the answer is 400 `RequestHeaderSectionTooLarge`.
    pub max_header_bytes: usize,
    /// Largest body of an admin API, STS or IAM request, bytes (policy documents
    /// are the biggest thing sent).
    pub max_api_body_bytes: usize,
    /// Largest size of the fields before `file` in a browser POST upload, part
    /// headers included, bytes (S3: 20 KiB, `MaxPostPreDataLengthExceeded`).
    pub max_form_fields_bytes: usize,
    /// Total memory all request bodies that must be read before their signature
    /// can be checked (STS and IAM forms, admin calls without a signed payload
    /// hash) may hold at once, bytes; beyond it, 503 with `Retry-After`.
    pub preauth_memory_bytes: usize,
    /// A multipart upload neither completed nor aborted this long after it
    /// started is aborted by housekeeping (its parts' bytes freed), seconds; 0
    /// keeps uploads forever. S3 leaves this to a lifecycle rule; 7 days is the
    /// rule AWS recommends.
    pub abandoned_upload_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_object_size: 5 * 1024 * 1024 * 1024,
            presign_future_tolerance_secs: 900,
            max_clock_skew_secs: 900,
            link_requests_per_second: 100,
            link_burst: 200,
            password_attempts: 5,
            password_ban_secs: 900,
            max_connections: 4096,
            idle_timeout_secs: 60,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            send_timeout_secs: 60,
            max_header_bytes: 8 * 1024,
            max_api_body_bytes: 256 * 1024,
            max_form_fields_bytes: 20 * 1024,
            preauth_memory_bytes: 64 * 1024 * 1024,
            abandoned_upload_secs: 7 * 24 * 3600,
        }
    }
}

/// `[tls]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// `[log]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Write one access-log line per request to stderr.
    pub access_log: bool,
}

/// `[[upstreams]]`: an API broker links may front.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name producers refer to.
    pub name: String,
    /// Base URL every forwarded request goes to.
    pub base_url: String,
    /// SigV4 service (e.g. execute-api).
    pub service: String,
    /// SigV4 region.
    pub region: String,
    /// `env` or `profile:NAME`.
    pub credentials: String,
    /// Seconds a forwarded request may take to connect and receive the response
    /// head before the client gets 504; unset means 30. 0 is refused at startup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// A configuration problem, said so that the operator can fix it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Defaults, then the file (if given), then `LINKGATE_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Figment reads the process environment; tests pass their own variables, so
        // feed it exactly the pairs we were given.
        let vars: Vec<(String, String)> =
            env.iter().filter(|(k, _)| k.starts_with("LINKGATE_") && !NON_CONFIG_VARS.contains(&k.as_str())).cloned().collect();
        for (k, v) in vars {
            let key = k.trim_start_matches("LINKGATE_").to_ascii_lowercase().replace("__", ".");
            let value = match v.parse::<figment::value::Value>() {
                Ok(parsed) => parsed,
                Err(_) => figment::value::Value::from(v.clone()),
            };
            fig = fig.merge((key, value));
        }
        fig.extract().map_err(|e| ConfigError(format!("invalid configuration: {e}")))
    }

    /// The SQLite database path.
    pub fn sqlite_path(&self) -> Result<PathBuf, ConfigError> {
        match &self.store.url {
            None => Ok(self.data_dir.join("linkgate.db")),
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(p) => Ok(PathBuf::from(p)),
                None => Err(ConfigError(format!("store.url '{url}': only sqlite:// is supported in this version"))),
            },
        }
    }
}

/// Variables that are secrets or handled elsewhere, never configuration keys.
const NON_CONFIG_VARS: [&str; 4] = ["LINKGATE_ROOT_ACCESS_KEY", "LINKGATE_ROOT_SECRET_KEY", "LINKGATE_MASTER_KEY", "LINKGATE_LOG"];

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::load(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8420");
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.sts.min_duration_seconds, 900);
        assert_eq!(c.data_dir, PathBuf::from("./linkgate-data"));
    }

    #[test]
    fn env_overrides_nested_keys() {
        let c = Config::load(
            None,
            &vars(&[("LINKGATE_STS__MIN_DURATION_SECONDS", "2"), ("LINKGATE_REGION", "eu-west-1"), ("LINKGATE_LISTEN", "127.0.0.1:0")]),
        )
        .unwrap();
        assert_eq!(c.sts.min_duration_seconds, 2);
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.listen.port(), 0);
        let c = Config::load(None, &vars(&[("LINKGATE_LOG", "warn"), ("LINKGATE_ROOT_SECRET_KEY", "x")])).unwrap();
        assert!(!c.log.access_log);
    }

    #[test]
    fn file_then_env() {
        let dir = std::env::temp_dir().join(format!("linkgate-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("linkgate.toml");
        std::fs::write(&file, "region = \"ap-southeast-2\"\n[links]\nredirect_ttl = 5\n").unwrap();
        let c = Config::load(Some(&file), &vars(&[("LINKGATE_LINKS__REDIRECT_TTL", "7")])).unwrap();
        assert_eq!(c.region, "ap-southeast-2");
        assert_eq!(c.links.redirect_ttl, 7);
        std::fs::write(&file, "regoin = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), &[]).unwrap_err();
        assert!(err.0.contains("regoin"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
