//! Upstream APIs for upstream links: an `[[upstreams]]` entry, and the credentials
//! linkgate signs forwarded requests with (`credentials = "env"`, resolved from
//! [`UpstreamEnv`] rather than the process environment).

use linkgate::config::UpstreamConfig;
use linkgate::credentials::Environment;

/// The upstream access key id.
pub const UP_AK: &str = "AKIDUPSTREAMEXAMPLE";
/// Its secret.
pub const UP_SK: &str = "upstream/secret/key/EXAMPLE+0123456789abcd";
/// The region upstream requests are signed for.
pub const UP_REGION: &str = "eu-west-1";

/// The environment linkgate resolves `credentials = "env"` from.
pub struct UpstreamEnv;

impl Environment for UpstreamEnv {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "AWS_ACCESS_KEY_ID" => Some(UP_AK.into()),
            "AWS_SECRET_ACCESS_KEY" => Some(UP_SK.into()),
            _ => None,
        }
    }

    fn home_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Upstream `name` at `base_url`: service `execute-api` in [`UP_REGION`], the
/// credentials of [`UpstreamEnv`], the default timeout.
pub fn upstream(name: &str, base_url: String) -> UpstreamConfig {
    UpstreamConfig {
        name: name.into(),
        base_url,
        service: "execute-api".into(),
        region: UP_REGION.into(),
        credentials: "env".into(),
        timeout_secs: None,
    }
}
