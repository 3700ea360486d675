//! What is known about a request before anyone has judged it: who sent it from
//! where, over what, and when it arrived.
//!
//! Built once per request by the HTTP layer and passed to every decision, so a
//! policy condition (`aws:SourceIp`, later `aws:SecureTransport` and MFA) is
//! judged the same way on every surface.

use std::net::{IpAddr, Ipv4Addr};

/// One request's context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The id answered in `x-amz-request-id` and error bodies.
    pub request_id: String,
    /// The client's address: the TCP peer (no proxy header is trusted yet).
    pub client_ip: IpAddr,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// When the request arrived, unix milliseconds (from the server's clock).
    pub received_ms: i64,
}

impl RequestContext {
    /// A context for work the server does on its own behalf (housekeeping, tests).
    pub fn internal(received_ms: i64) -> Self {
        Self { request_id: crate::ids::request_id(), client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST), tls: false, received_ms }
    }
}
