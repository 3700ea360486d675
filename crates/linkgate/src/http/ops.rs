//! Operations endpoints: liveness, readiness, metrics.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::AppState;

/// `/-/healthz` (process up), `/-/readyz` (store answers).
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/-/healthz", get(|| async { "ok\n" })).route("/-/readyz", get(readyz))
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match state.store.ping() {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n")
        }
    }
}
