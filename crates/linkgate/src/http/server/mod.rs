//! Placeholder for the bounded connection layer (being built separately).

use std::future::Future;

/// Whether a body error is the body-progress timeout.
pub fn is_body_timeout(_e: &axum::Error) -> bool {
    false
}

/// Serves `app` until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    _limits: &crate::config::LimitsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown).await
}
