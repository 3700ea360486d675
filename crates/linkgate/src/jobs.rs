//! Housekeeping: the work the server does on a timer, outside any request.
//!
//! | every | job |
//! |---|---|
//! | 200 ms | write buffered link audit rows and use counts |
//! | 60 s | forget recovered rate-limit entries and finished password bans |
//! | 1 h | purge long-dead links and old audit rows; expired STS sessions; abort abandoned multipart uploads |
//!
//! [`Housekeeping::stop`] ends them and writes what is still buffered.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::LinksConfig;
use crate::services::identities::Identities;
use crate::services::links::LinkService;
use crate::services::objects::Objects;
use crate::store::links::LinkStore;
use crate::store::write_behind::BufferedLinks;

/// What the jobs work on.
pub struct Jobs {
    /// Buffered link writes.
    pub buffer: Arc<BufferedLinks>,
    /// The link service (its guards).
    pub links: Arc<LinkService>,
    /// Identities (sessions).
    pub identities: Arc<Identities>,
    /// Objects (abandoned uploads).
    pub objects: Arc<Objects>,
    /// `limits.abandoned_upload_secs` (0: never).
    pub abandoned_upload_secs: u64,
    /// `[links]` retention.
    pub config: LinksConfig,
    /// The clock.
    pub clock: SharedClock,
}

/// The running jobs; aborted when dropped.
#[derive(Debug)]
pub struct Housekeeping {
    task: tokio::task::JoinHandle<()>,
    buffer: Arc<BufferedLinks>,
}

impl Housekeeping {
    /// Starts the jobs on the current runtime.
    pub fn start(jobs: Jobs) -> Self {
        let buffer = jobs.buffer.clone();
        Self { task: tokio::spawn(run(jobs)), buffer }
    }

    /// Stops the jobs and writes what is still buffered.
    pub async fn stop(self) {
        self.task.abort();
        if let Err(e) = self.buffer.flush().await {
            tracing::error!(error = %e, "cannot write link audit rows at shutdown");
        }
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(jobs: Jobs) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for round in 0_u64.. {
        tick.tick().await;
        if let Err(e) = jobs.buffer.flush().await {
            tracing::error!(error = %e, "cannot write buffered link audit rows; they stay buffered");
        }
        if round % 300 == 299 {
            jobs.links.guards().purge(jobs.clock.now_ms());
        }
        if round % 18_000 == 0 {
            purge(&jobs).await;
        }
    }
}

async fn purge(jobs: &Jobs) {
    let now = jobs.clock.now_ms();
    let ms = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000);
    match jobs.buffer.purge(now, ms(jobs.config.retention_secs), ms(jobs.config.audit_retention_secs)).await {
        Ok((links, rows)) if links + rows > 0 => tracing::info!(links, audit_rows = rows, "purged dead links and old audit rows"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "link purge failed"),
    }
    match jobs.identities.purge_sessions().await {
        Ok(n) if n > 0 => tracing::info!(sessions = n, "purged expired sessions"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "session purge failed"),
    }
    if jobs.abandoned_upload_secs > 0 {
        match jobs.objects.expire_uploads(ms(jobs.abandoned_upload_secs)).await {
            Ok(n) if n > 0 => tracing::info!(uploads = n, "aborted abandoned multipart uploads"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e.message, "abandoned upload expiry failed"),
        }
    }
}
