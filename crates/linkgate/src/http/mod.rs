//! The HTTP server: one listener, a router per surface.
//!
//! - [`s3`]: the S3-compatible API (path style), the fallback for every path not
//!   under `/-/` (no bucket name can start with `-`).
//! - [`query`]: the AWS query protocol on `POST /` — STS and IAM.
//! - [`links`]: broker-link redemption, `/l/{token}`; [`upstream`] forwards
//!   upstream links to their configured API, signed at that moment.
//! - [`ops`]: `/-/healthz`, `/-/readyz`, `/-/metrics`.
//! - [`admin`]: the JSON admin API under `/-/api/v1/` (users, keys, policies, roles).

pub mod admin;
mod link_audit;
pub mod links;
pub mod ops;
pub mod query;
pub mod s3;
pub mod server;
pub mod upstream;

use std::sync::Arc;

use axum::Router;
use sigv4::SigningKeyCache;
use tokio::net::TcpListener;

use crate::auth::RootCredentials;
use crate::auth::authority::Authority;
use crate::config::Config;
use crate::objects::FsObjects;
use crate::store::MetaStore;

/// Everything a request handler may need, shared by all requests.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// Metadata.
    pub store: Arc<dyn MetaStore>,
    /// Object bytes.
    pub objects: FsObjects,
    /// Broker links and their audit trail.
    pub links: Arc<dyn crate::store::links::LinkStore>,
    /// Access keys → secrets and principals; access-time decisions.
    pub authority: Arc<Authority>,
    /// Derived signing keys, so verification costs one HMAC, not five.
    pub signing_keys: SigningKeyCache,
    /// Root credentials (also reachable through `keys`).
    pub root: RootCredentials,
    /// The configured `[[upstreams]]`, credentials resolved at startup.
    pub upstreams: upstream::Upstreams,
    /// Rate limits and the password brute-force ban on `/l/…`.
    pub link_guards: crate::links::guard::LinkGuards,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The whole application as one router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().merge(ops::router()).merge(links::router()).merge(admin::router()).fallback(s3::handle).with_state(state)
}

/// Serves until `shutdown` resolves. Sets TCP_NODELAY on every connection: without
/// it, small keep-alive responses stall ~40 ms on delayed ACKs.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let links = state.links.clone();
    let retention = (state.config.links.retention_secs as i64 * 1000, state.config.links.audit_retention_secs as i64 * 1000);
    let guarded = state.clone();
    let flusher = tokio::spawn(async move {
        // Audit rows every 200 ms; rate and ban tables every minute; dead links and
        // old audit rows once an hour.
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        let mut last_purge: Option<std::time::Instant> = None;
        for round in 1_u64.. {
            tick.tick().await;
            if round % 300 == 0 {
                guarded.link_guards.purge(s3::now_ms());
            }
            let links = links.clone();
            let purge_due = last_purge.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600));
            if purge_due {
                last_purge = Some(std::time::Instant::now());
            }
            let done = tokio::task::spawn_blocking(move || {
                links.flush_audit()?;
                if purge_due {
                    let (gone, rows) = links.purge(s3::now_ms(), retention.0, retention.1)?;
                    if gone + rows > 0 {
                        tracing::info!(links = gone, audit_rows = rows, "purged dead links and old audit rows");
                    }
                }
                Ok::<(), crate::store::StoreError>(())
            })
            .await;
            if let Ok(Err(e)) = done {
                tracing::error!(error = %e, "link housekeeping failed");
            }
        }
    });
    let links = state.links.clone();
    let limits = state.config.limits.clone();
    let served = server::run(listener, router(state), &limits, shutdown).await;
    flusher.abort();
    if let Err(e) = links.flush_audit() {
        tracing::error!(error = %e, "cannot write link audit rows at shutdown");
    }
    served
}
