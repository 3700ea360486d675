//! Operations endpoints: liveness and readiness.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use super::AppState;

/// `/-/healthz` (process up), `/-/readyz` (stores answer and object bytes can be
/// written).
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/-/healthz", get(|| async { "ok\n" })).route("/-/readyz", get(readyz))
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    match state.objects.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(what) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {what}\n")),
    }
}
