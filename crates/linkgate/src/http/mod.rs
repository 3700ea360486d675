//! The HTTP surfaces: one listener, a router per surface, and the shared edge.
//!
//! - [`server`]: connections — limits, timeouts, the connection cap;
//! - [`auth`]: the one authentication pipeline every surface uses;
//! - [`body`]: bounded body reads and the pre-authentication memory budget;
//! - [`s3`]: the S3-compatible API (path style), the fallback for every path not
//!   under `/-/` (no bucket name can start with `-`);
//! - [`query`]: the AWS query protocol on `POST /` — STS and IAM;
//! - [`links`]: broker-link redemption, `/l/{token}`;
//! - [`admin`]: the JSON admin API under `/-/api/v1/`;
//! - [`ops`]: `/-/healthz`, `/-/readyz`.
//!
//! Handlers parse a request, call one service, and render its answer; they never
//! touch a store.

pub mod admin;
pub(crate) mod auth;
pub(crate) mod body;
pub mod links;
pub mod ops;
pub mod query;
pub mod s3;
pub mod server;

use std::sync::Arc;

use axum::Router;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::services::identities::Identities;
use crate::services::links::LinkService;
use crate::services::objects::Objects;

/// Everything a request handler may need, shared by all requests.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// The clock every decision reads.
    pub clock: SharedClock,
    /// Identities: who a key is, what it may do.
    pub identities: Arc<Identities>,
    /// Buckets and objects.
    pub objects: Arc<Objects>,
    /// Broker links.
    pub links: Arc<LinkService>,
    /// The authentication pipeline.
    pub(crate) pipeline: auth::Pipeline,
    /// Memory for bodies read before their signature is checked.
    pub(crate) preauth: body::PreauthBudget,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl AppState {
    /// The state the HTTP surfaces share: the services, and the pipeline and
    /// budget built from the configuration (`signing_keys` is shared with the link
    /// service, which signs redirects and forwarded requests).
    pub fn new(
        config: Config,
        clock: SharedClock,
        identities: Arc<Identities>,
        objects: Arc<Objects>,
        links: Arc<LinkService>,
        signing_keys: Arc<sigv4::SigningKeyCache>,
    ) -> Self {
        let pipeline = auth::Pipeline::new(identities.clone(), signing_keys, clock.clone(), config.region.clone(), &config.limits);
        let preauth = body::PreauthBudget::new(config.limits.preauth_memory_bytes);
        Self { config, clock, identities, objects, links, pipeline, preauth }
    }
}

/// The whole application as one router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new().merge(ops::router()).merge(links::router()).merge(admin::router()).fallback(s3::handle).with_state(state)
}
